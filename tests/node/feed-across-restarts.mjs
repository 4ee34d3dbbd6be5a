// Two graphql-ws clients follow the feed while the server restarts, and print what
// happens to each as JSON lines: "documented", configured as docs/clients.md says
// (retry on every error, refetch once connected again), and "defaults", graphql-ws's
// own settings. A restart refuses connections for a while (ECONNREFUSED), which
// graphql-ws takes as fatal unless told otherwise.
// Usage: node feed-across-restarts.mjs <http://host:port/graphql>
// Runs until killed.
import { createClient } from 'graphql-ws';
import WebSocket from 'ws'; // Node 20 has no global WebSocket

const [httpUrl] = process.argv.slice(2);
const url = httpUrl.replace(/^http/, 'ws');
const FEED = 'subscription { feed { id title } }';

function print(client, event, fields = {}) {
  console.log(JSON.stringify({ client, event, ...fields }));
}

// What a view shows besides the feed, read again after a reconnection: whatever was
// published while the socket was down never comes through the feed.
async function refetch() {
  const response = await fetch(httpUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query: '{ recentPosts(first: 10) { edges { node { title } } } }' }),
  });
  const { data } = await response.json();
  print('documented', 'refetched', { titles: data.recentPosts.edges.map((edge) => edge.node.title) });
}

const documented = createClient({
  url,
  webSocketImpl: WebSocket,
  shouldRetry: () => true,
  retryAttempts: Infinity,
  retryWait: (retries) =>
    new Promise((resolve) =>
      setTimeout(resolve, Math.min(1000 * 2 ** retries, 10_000) * (0.5 + Math.random())),
    ),
  on: {
    connected: (socket, payload, wasRetry) => {
      print('documented', 'connected', { wasRetry });
      if (wasRetry) refetch();
    },
  },
});

const defaults = createClient({
  url,
  webSocketImpl: WebSocket,
  on: { connected: (socket, payload, wasRetry) => print('defaults', 'connected', { wasRetry }) },
});

for (const [name, client] of [['documented', documented], ['defaults', defaults]]) {
  client.subscribe(
    { query: FEED },
    {
      next: (result) => print(name, 'item', { title: result.data?.feed?.title ?? null }),
      error: (error) => print(name, 'error', { error: String(error?.message ?? error?.code ?? error) }),
      complete: () => print(name, 'complete'),
    },
  );
}
