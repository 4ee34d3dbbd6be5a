"""The GraphQL operations the tests send, written once."""

POST_FIELDS = """
  id version title content tags status
  author { id name avatarUrl }
  commentCount likeCount createdAt updatedAt publishedAt
"""

REGISTER = """
mutation($input: RegisterUserInput!) {
  registerUser(input: $input) { token position user { id name avatarUrl bio joinedAt publishedPostCount } }
}"""

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
    posts(first: $first, after: $after) { totalCount edges { cursor node { id title status } } pageInfo { hasNextPage endCursor } }
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
