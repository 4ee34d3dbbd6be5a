// Deletes a comment through Apollo Client and prints, as one JSON line, what its cache
// holds of the post before and after: the update function is docs/clients.md's, which
// drops the comment named by `deletedCommentId` from every cached page of the post's
// comments, takes the page's totalCount from the post's commentCount, and evicts it.
// Between reading the page and the delete, the client adds a comment "Late" that the
// cached page does not hold, so a totalCount only decremented would fall behind.
// Usage: node apollo-delete-comment.mjs <http://host:port/graphql> <token> <postId> <commentId>
// Exits 0 when every step ran, 1 on an error (printed to stderr).
import { ApolloClient, HttpLink, InMemoryCache, gql } from '@apollo/client';

const [httpUrl, token, postId, commentId] = process.argv.slice(2);

const client = new ApolloClient({
  link: new HttpLink({ uri: httpUrl, headers: { Authorization: `Bearer ${token}` } }),
  cache: new InMemoryCache(),
});

const POST = gql`
  query PostComments($id: ID!) {
    post(id: $id) {
      id
      commentCount
      topComments { id body }
      comments(first: 10) { totalCount edges { node { id body } } }
    }
  }
`;
const ADD_COMMENT = gql`
  mutation AddComment($input: AddCommentInput!) {
    addComment(input: $input) { comment { id } post { id commentCount } }
  }
`;
const DELETE_COMMENT = gql`
  mutation DeleteComment($input: DeleteCommentInput!) {
    deleteComment(input: $input) { postId deletedCommentId post { id commentCount } }
  }
`;

function cached() {
  const { post } = client.readQuery({ query: POST, variables: { id: postId } });
  return {
    commentCount: post.commentCount,
    topComments: post.topComments.map((comment) => comment.id),
    totalCount: post.comments.totalCount,
    comments: post.comments.edges.map((edge) => edge.node.id),
  };
}

try {
  await client.query({ query: POST, variables: { id: postId } });
  const before = cached();
  await client.mutate({ mutation: ADD_COMMENT, variables: { input: { postId, body: 'Late' } } });
  await client.mutate({
    mutation: DELETE_COMMENT,
    variables: { input: { commentId } },
    update(cache, { data }) {
      const { postId, deletedCommentId } = data.deleteComment;
      cache.modify({
        id: cache.identify({ __typename: 'Post', id: postId }),
        fields: {
          // Every cached page of the post's comments, whatever its arguments; its
          // totalCount is the post's commentCount, which the payload's post refreshed.
          comments(page, { readField }) {
            const edges = page.edges.filter((edge) => readField('id', edge.node) !== deletedCommentId);
            return { ...page, edges, totalCount: readField('commentCount') };
          },
        },
      });
      cache.evict({ id: cache.identify({ __typename: 'Comment', id: deletedCommentId }) });
      cache.gc();
    },
  });
  const after = cached();
  const kept = Object.keys(client.cache.extract()).filter((key) => key.startsWith('Comment:'));
  console.log(JSON.stringify({ before, after, cachedComments: kept }));
  process.exit(0);
} catch (error) {
  console.error(error);
  process.exit(1);
}
