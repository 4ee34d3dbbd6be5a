// Drives Apollo Client against a running Inkwell and prints one JSON line per step:
// a feed paged with fetchMore and merged by relayStylePagination, sent as persisted
// queries (hash first, GET); a mutation; a graphql-ws subscription updating the cache.
// Usage: node apollo-client.mjs <http://host:port/graphql> <token>
// Exits 0 when every step ran, 1 on an error (printed to stderr).
import { createHash } from 'node:crypto';
import { ApolloClient, ApolloLink, HttpLink, InMemoryCache, gql } from '@apollo/client';
import { PersistedQueryLink } from '@apollo/client/link/persisted-queries';
import { GraphQLWsLink } from '@apollo/client/link/subscriptions';
import { getMainDefinition, relayStylePagination } from '@apollo/client/utilities';
import { createClient } from 'graphql-ws';
import { filter, firstValueFrom } from 'rxjs';
import WebSocket from 'ws'; // Node 20 has no global WebSocket

const [httpUrl, token] = process.argv.slice(2);
const wsUrl = httpUrl.replace(/^http/, 'ws');

// Every HTTP request Apollo makes, as the server saw it: method, whether it carried the
// document, and the status. This is how the test sees the persisted-query round trips.
const requests = [];
async function recordingFetch(url, options) {
  const response = await fetch(url, options);
  const sent = options.method === 'GET' ? decodeURIComponent(String(url)) : String(options.body);
  requests.push({
    method: options.method,
    withQuery: /"query"|[?&]query=/.test(sent),
    status: response.status,
    contentType: response.headers.get('content-type'),
  });
  return response;
}

const sockets = createClient({
  url: wsUrl,
  webSocketImpl: WebSocket,
  connectionParams: { Authorization: `Bearer ${token}` },
  retryAttempts: 0,
});
const http = new PersistedQueryLink({
  sha256: (text) => createHash('sha256').update(text).digest('hex'),
  useGETForHashedQueries: true,
}).concat(
  new HttpLink({ uri: httpUrl, fetch: recordingFetch, headers: { Authorization: `Bearer ${token}` } }),
);
const isSubscription = ({ query }) => {
  const definition = getMainDefinition(query);
  return definition.kind === 'OperationDefinition' && definition.operation === 'subscription';
};
const client = new ApolloClient({
  link: ApolloLink.split(isSubscription, new GraphQLWsLink(sockets), http),
  cache: new InMemoryCache({
    typePolicies: { Query: { fields: { recentPosts: relayStylePagination() } } },
  }),
});

const FEED = gql`
  query Feed($first: Int, $after: String) {
    recentPosts(first: $first, after: $after) {
      totalCount
      edges { cursor node { id title likeCount } }
      pageInfo { hasNextPage endCursor hasPreviousPage startCursor }
    }
  }
`;
// Selects only the position: the cache learns the new likeCount from the subscription alone.
const LIKE = gql`
  mutation Like($input: PostCommandInput!) { likePost(input: $input) { position } }
`;
const FOLLOW = gql`
  subscription Follow($id: ID!) { post(id: $id) { id likeCount } }
`;

function print(step, fields) {
  console.log(JSON.stringify({ step, ...fields }));
}

function titles(data) {
  return data.recentPosts.edges.map((edge) => edge.node.title);
}

try {
  // 1. The first page, then the next with fetchMore, merged into one list by the type policy.
  const feed = client.watchQuery({ query: FEED, variables: { first: 2 } });
  const first = await firstValueFrom(feed.pipe(filter((result) => result.dataState === 'complete')));
  print('first page', { titles: titles(first.data), pageInfo: first.data.recentPosts.pageInfo });
  await feed.fetchMore({ variables: { after: first.data.recentPosts.pageInfo.endCursor } });
  const merged = feed.getCurrentResult().data;
  print('merged', { titles: titles(merged), pageInfo: merged.recentPosts.pageInfo });
  // fetchMore sent the same document: by hash alone over GET, now that the server has it.
  print('persisted queries', { requests });

  // 2. A subscription to the newest post, and a like through a mutation.
  const post = merged.recentPosts.edges[0].node;
  const items = [];
  let onFirst, onUpdate, onError;
  const subscribed = new Promise((resolve) => { onFirst = resolve; });
  const updated = new Promise((resolve, reject) => { onUpdate = resolve; onError = reject; });
  client.subscribe({ query: FOLLOW, variables: { id: post.id } }).subscribe({
    next: (result) => {
      items.push(result.data.post.likeCount);
      if (items.length === 1) onFirst();
      if (result.data.post.likeCount > post.likeCount) onUpdate();
    },
    error: (error) => onError(error),
  });
  await subscribed;
  const liked = await client.mutate({ mutation: LIKE, variables: { input: { postId: post.id } } });
  print('liked', { position: liked.data.likePost.position });
  await updated;

  // 3. The feed, read from the cache alone, shows what the subscription delivered.
  const cached = client.readQuery({ query: FEED, variables: { first: 2 } });
  const entry = cached.recentPosts.edges.find((edge) => edge.node.id === post.id);
  print('cache', { items, likeCount: entry.node.likeCount, cachedPosts: cached.recentPosts.edges.length });
} catch (error) {
  console.error(error?.stack ?? JSON.stringify(error));
  process.exitCode = 1;
} finally {
  client.stop();
  await sockets.dispose();
}
