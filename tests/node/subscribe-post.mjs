// Follows one post with the graphql-ws client and prints each item as a JSON line.
// Usage: node subscribe-post.mjs <ws://host:port/graphql> <token> <post id> <items to await>
// Exits 0 after that many items, 1 on an error (printed to stderr).
import { createClient } from 'graphql-ws';
import WebSocket from 'ws'; // Node 20 has no global WebSocket

const [url, token, postId, wanted] = process.argv.slice(2);
const query = 'subscription($id: ID!) { post(id: $id) { id title likeCount likedByViewer } }';

const client = createClient({
  url,
  webSocketImpl: WebSocket,
  connectionParams: { Authorization: `Bearer ${token}` },
  retryAttempts: 0,
});

let received = 0;
try {
  for await (const result of client.iterate({ query, variables: { id: postId } })) {
    console.log(JSON.stringify(result));
    if (result.errors) process.exitCode = 1;
    if (++received >= Number(wanted) || result.errors) break;
  }
} catch (error) {
  console.error(describe(error));
  process.exitCode = 1;
} finally {
  await client.dispose();
}

// graphql-ws rejects with an Error, a CloseEvent, an ErrorEvent or the operation's GraphQL errors.
function describe(error) {
  if (error instanceof Error) return error.stack;
  if (Array.isArray(error)) return JSON.stringify(error);
  if (error.code !== undefined) return `connection closed: ${error.code} ${error.reason}`;
  return `connection failed: ${error.message ?? error}`;
}
