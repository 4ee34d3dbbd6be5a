// Follows the feed with the graphql-ws client as docs/clients.md's reconnect recipe says:
// the request keeps `after` one below the largest readModelPosition received, and graphql-ws
// sends that same request object again whenever it reconnects, so the new subscription
// resumes where the old one stopped. Prints each post as a JSON line, and
// {"connected": n} at each connection.
// Usage: node resume-feed.mjs <ws://host:port/graphql> <after> <items to await>
// Exits 0 after that many posts, 1 on an error (printed to stderr).
import { createClient } from 'graphql-ws';
import WebSocket from 'ws'; // Node 20 has no global WebSocket

const [url, after, wanted] = process.argv.slice(2);
const request = {
  query: 'subscription($after: Int) { feed(after: $after) { id title status readModelPosition } }',
  variables: { after: Number(after) },
};

let connections = 0;
const client = createClient({
  url,
  webSocketImpl: WebSocket,
  retryAttempts: Infinity,
  shouldRetry: () => true,
  retryWait: () => new Promise((resolve) => setTimeout(resolve, 200)),
  on: { connected: () => console.log(JSON.stringify({ connected: ++connections })) },
});

let received = 0;
const done = new Promise((resolve) => {
  const stop = client.subscribe(request, {
    next: ({ data, errors }) => {
      if (errors) {
        // RESUBSCRIBE: read the current state again and subscribe anew (not needed here).
        console.error(JSON.stringify(errors));
        process.exitCode = 1;
        return;
      }
      const post = data.feed;
      request.variables.after = Math.max(request.variables.after, post.readModelPosition - 1);
      console.log(JSON.stringify(post));
      if (++received >= Number(wanted)) {
        stop();
        resolve();
      }
    },
    error: (error) => {
      console.error(String(error?.reason ?? error?.message ?? JSON.stringify(error)));
      process.exitCode = 1;
      resolve();
    },
    complete: resolve,
  });
});
await done;
await client.dispose();
