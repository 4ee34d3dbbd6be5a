"""The GraphQL operations the tests send, written once."""

POST_FIELDS = """
  id version title content tags status
  author { id name avatarUrl }
  commentCount likeCount createdAt updatedAt publishedAt
"""

REGISTER = """
mutation($input: RegisterUserInput!) {
  registerUser(input: $input) {
    token position user { id name avatarUrl bio joinedAt publishedPostCount }
  }
}"""

REGISTER_POSITION_ONLY = """
mutation($input: RegisterUserInput!) { registerUser(input: $input) { position } }"""

UPDATE_PROFILE = """
mutation($input: UpdateProfileInput!) {
  updateProfile(input: $input) { position user { id name avatarUrl bio } }
}"""

CREATE_POST = f"""
mutation($input: CreatePostInput!) {{
  createPost(input: $input) {{ position post {{ {POST_FIELDS} }} }}
}}"""

CREATE_POST_POSITION_ONLY = """
mutation($input: CreatePostInput!) { createPost(input: $input) { position } }"""

UPDATE_POST = f"""
mutation($input: UpdatePostInput!) {{
  updatePost(input: $input) {{ position post {{ {POST_FIELDS} }} }}
}}"""

PUBLISH_POST = f"""
mutation($input: PostCommandInput!) {{
  publishPost(input: $input) {{ position post {{ {POST_FIELDS} }} }}
}}"""

ARCHIVE_POST = f"""
mutation($input: PostCommandInput!) {{
  archivePost(input: $input) {{ position post {{ {POST_FIELDS} }} }}
}}"""

POST = f"""
query($id: ID!) {{ post(id: $id) {{ {POST_FIELDS} }} }}"""

USER = """
query($id: ID!, $first: Int, $after: String) {
  user(id: $id) {
    id name avatarUrl bio joinedAt publishedPostCount
    posts(first: $first, after: $after) {
      totalCount edges { cursor node { id title status } } pageInfo { hasNextPage endCursor }
    }
  }
}"""

VIEWER = "{ viewer { id name } }"

RECENT = """
query($first: Int, $after: String) {
  recentPosts(first: $first, after: $after) {
    totalCount edges { cursor node { id title publishedAt author { name } } }
    pageInfo { hasNextPage endCursor }
  }
}"""

BY_AUTHOR = """
query($authorId: ID!, $first: Int, $after: String) {
  postsByAuthor(authorId: $authorId, first: $first, after: $after) {
    totalCount edges { cursor node { id title status } } pageInfo { hasNextPage endCursor }
  }
}"""

PROJECTIONS = "{ projections { name position headPosition lag } }"

COMMENT_FIELDS = "id postId body createdAt author { id name avatarUrl }"

LIKE_POST = """
mutation($input: PostCommandInput!) {
  likePost(input: $input) { position post { id likeCount likedByViewer } }
}"""

UNLIKE_POST = """
mutation($input: PostCommandInput!) {
  unlikePost(input: $input) { position post { id likeCount likedByViewer } }
}"""

ADD_COMMENT = f"""
mutation($input: AddCommentInput!) {{
  addComment(input: $input) {{
    position commentId comment {{ {COMMENT_FIELDS} }} post {{ id commentCount }}
  }}
}}"""

DELETE_COMMENT = """
mutation($input: DeleteCommentInput!) {
  deleteComment(input: $input) { position post { id commentCount } }
}"""

POST_ENGAGEMENT = f"""
query($id: ID!, $first: Int, $after: String) {{
  post(id: $id) {{
    id likeCount likedByViewer commentCount
    topComments {{ {COMMENT_FIELDS} }}
    comments(first: $first, after: $after) {{
      totalCount edges {{ cursor node {{ {COMMENT_FIELDS} }} }} pageInfo {{ hasNextPage endCursor }}
    }}
  }}
}}"""

BY_TAG = """
query($tag: String!, $first: Int, $after: String) {
  postsByTag(tag: $tag, first: $first, after: $after) {
    totalCount edges { node { id title tags } }
  }
}"""

SEARCH = """
query($query: String!, $first: Int, $after: String) {
  searchPosts(query: $query, first: $first, after: $after) {
    totalCount edges { cursor node { id title } } pageInfo { hasNextPage endCursor }
  }
}"""

POPULAR = "query($first: Int) { popularPosts(first: $first) { id title likeCount } }"
