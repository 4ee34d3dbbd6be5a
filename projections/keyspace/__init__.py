"""Where every read model lives in Redis: the key layout (keys.py), the words search keys are
built from, and walking or deleting a space's keys."""
