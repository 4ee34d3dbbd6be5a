// The live page: recent published posts with their counts and newest comments, kept
// current by GraphQL subscriptions (graphql-transport-ws on /graphql), and a lag
// indicator fed by the `projections` subscription.
//
// Server data reaches the DOM only as text (textContent, dataset, dateTime): never as
// HTML, so a post titled <img src=x onerror=alert(1)> shows as those characters.
(function () {
  "use strict";

  const ENDPOINT = "/graphql";
  const PAGE_SIZE = 20;
  const PREVIEW_LENGTH = 280;

  const POST_FIELDS = `
    id version title content tags status publishedAt
    author { id name }
    likeCount commentCount
    topComments { id body createdAt author { id name } }`;
  const PROJECTION_FIELDS = "name position headPosition lag";

  const state = {
    posts: new Map(), // post id -> the newest state seen
    held: null, // feed items that arrive while a snapshot loads, applied after it
    resyncOnNextItem: false,
    connection: "connecting",
  };

  const $ = (id) => document.getElementById(id);

  async function graphql(query, variables) {
    const response = await fetch(ENDPOINT, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json" },
      body: JSON.stringify({ query, variables: variables || {} }),
    });
    if (!response.ok) {
      throw new Error(`${ENDPOINT} answered HTTP ${response.status}`);
    }
    const body = await response.json();
    if (body.errors && body.errors.length) {
      throw new Error(body.errors.map((error) => error.message).join("; "));
    }
    return body.data;
  }

  // -- the posts ---------------------------------------------------------------

  async function loadSnapshot() {
    const held = [];
    state.held = held;
    try {
      const data = await graphql(
        `query LivePage($first: Int) {
          recentPosts(first: $first) { edges { node { ${POST_FIELDS} } } }
          projections { ${PROJECTION_FIELDS} }
        }`,
        { first: PAGE_SIZE },
      );
      replacePosts(data.recentPosts.edges.map((edge) => edge.node));
      showProjections(data.projections);
      showProblem("");
    } finally {
      if (state.held === held) state.held = null;
      held.forEach(upsert);
    }
  }

  function replacePosts(posts) {
    const next = new Map();
    for (const post of posts) {
      const known = state.posts.get(post.id);
      next.set(post.id, known && known.version > post.version ? known : post);
    }
    state.posts = next;
    render();
  }

  function onFeedItem(post) {
    if (state.held) state.held.push(post);
    else upsert(post);
  }

  // The feed sends each post when it is published and after every later change.
  // A post's stream version only grows, so an item older than what is shown is stale.
  function upsert(post) {
    const known = state.posts.get(post.id);
    if (known && post.version < known.version) return;
    if (post.status === "PUBLISHED") state.posts.set(post.id, post);
    else state.posts.delete(post.id);
    render();
  }

  function newestFirst(a, b) {
    const byTime = Date.parse(b.publishedAt) - Date.parse(a.publishedAt);
    return byTime || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
  }

  function render() {
    const shown = [...state.posts.values()].sort(newestFirst).slice(0, PAGE_SIZE);
    state.posts = new Map(shown.map((post) => [post.id, post]));
    const list = $("posts");
    const items = new Map([...list.children].map((item) => [item.dataset.postId, item]));
    shown.forEach((post, index) => {
      const item = items.get(post.id) || newPostItem();
      items.delete(post.id);
      fillPost(item, post);
      if (list.children[index] !== item) list.insertBefore(item, list.children[index] || null);
    });
    items.forEach((item) => item.remove());
    $("empty").hidden = shown.length > 0;
  }

  function newPostItem() {
    return $("post").content.firstElementChild.cloneNode(true);
  }

  function fillPost(item, post) {
    const before = item.dataset.counts;
    const counts = `${post.likeCount}/${post.commentCount}/${post.version}`;
    item.dataset.postId = post.id;
    item.dataset.version = String(post.version);
    item.dataset.counts = counts;
    setText(item, ".title", post.title);
    setText(item, ".author", post.author.name);
    const published = item.querySelector(".published");
    published.dateTime = post.publishedAt || "";
    published.textContent = post.publishedAt ? new Date(post.publishedAt).toLocaleString() : "";
    setText(item, ".tags", post.tags.map((tag) => `#${tag}`).join(" "));
    setText(item, ".content", preview(post.content));
    setText(item, ".likes", String(post.likeCount));
    setText(item, ".likes-label", post.likeCount === 1 ? "like" : "likes");
    setText(item, ".comments", String(post.commentCount));
    setText(item, ".comments-label", post.commentCount === 1 ? "comment" : "comments");
    fillComments(item.querySelector(".top-comments"), post.topComments);
    if (before !== undefined && before !== counts) flash(item);
  }

  function fillComments(list, comments) {
    list.hidden = !comments || comments.length === 0;
    list.replaceChildren(
      ...(comments || []).map((comment) => {
        const item = $("comment").content.firstElementChild.cloneNode(true);
        item.dataset.commentId = comment.id;
        setText(item, ".comment-author", comment.author.name);
        setText(item, ".comment-body", comment.body);
        return item;
      }),
    );
  }

  function setText(parent, selector, text) {
    const element = parent.querySelector(selector);
    if (element.textContent !== text) element.textContent = text;
  }

  function preview(text) {
    return text.length > PREVIEW_LENGTH ? `${text.slice(0, PREVIEW_LENGTH)}…` : text;
  }

  function flash(item) {
    item.classList.remove("changed");
    void item.offsetWidth; // restarts the animation
    item.classList.add("changed");
  }

  // -- projections and connection status ----------------------------------------

  function showProjections(statuses) {
    const lag = statuses.reduce((most, status) => Math.max(most, status.lag), 0);
    const indicator = $("lag");
    indicator.dataset.lag = String(lag);
    indicator.classList.toggle("behind", lag > 0);
    indicator.textContent =
      lag === 0 ? "read models: up to date" : `read models: ${lag} event${lag === 1 ? "" : "s"} behind`;
    indicator.title = statuses
      .map((status) => `${status.name}: ${status.position} of ${status.headPosition}`)
      .join("\n");
  }

  function setConnection(name) {
    state.connection = name;
    const element = $("connection");
    element.dataset.state = name;
    element.textContent = name;
  }

  function showProblem(text) {
    const element = $("problem");
    element.textContent = text;
    element.hidden = !text;
  }

  function describe(error) {
    if (Array.isArray(error)) return error.map((item) => item.message).join("; ");
    if (error && typeof error.code === "number") {
      return `connection closed (${error.code}${error.reason ? `: ${error.reason}` : ""})`;
    }
    return String((error && error.message) || error);
  }

  // -- subscriptions -------------------------------------------------------------

  function connect() {
    const url = new URL(ENDPOINT, window.location.href);
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    return graphqlWs.createClient({
      url: url.href,
      keepAlive: 20000,
      retryAttempts: Infinity,
      shouldRetry: () => true,
      retryWait: (retries) =>
        new Promise((resolve) => setTimeout(resolve, Math.min(500 * 2 ** retries, 10000))),
      on: {
        connected: () => {
          setConnection("connected");
          // The snapshot may predate the subscriptions (first connect) or miss what
          // happened while disconnected (reconnect): read it again once the server
          // has answered on the new connection.
          state.resyncOnNextItem = true;
        },
        closed: () => {
          if (state.connection !== "unavailable") setConnection("reconnecting");
        },
      },
    });
  }

  function subscribe(client, query, onData) {
    client.subscribe(
      { query },
      {
        next: (result) => {
          if (result.errors && result.errors.length) showProblem(describe(result.errors));
          if (result.data) onData(result.data);
        },
        error: (error) => {
          setConnection("unavailable");
          showProblem(`live updates unavailable: ${describe(error)}`);
        },
        complete: () => {},
      },
    );
  }

  function onProjectionsItem(data) {
    showProjections(data.projections);
    if (state.resyncOnNextItem) {
      state.resyncOnNextItem = false;
      if (state.connection !== "unavailable") setConnection("live");
      loadSnapshot().catch((error) => showProblem(describe(error)));
    }
  }

  async function start() {
    try {
      await loadSnapshot();
    } catch (error) {
      showProblem(`could not load the posts: ${describe(error)}`);
    }
    if (typeof graphqlWs === "undefined") {
      setConnection("unavailable");
      showProblem("live updates unavailable: the WebSocket client did not load");
      return;
    }
    const client = connect();
    // The feed first, so that it is registered before the projections item that
    // triggers the resync arrives.
    subscribe(client, `subscription LiveFeed { feed { ${POST_FIELDS} } }`, (data) =>
      onFeedItem(data.feed),
    );
    subscribe(
      client,
      `subscription LiveProjections { projections { ${PROJECTION_FIELDS} } }`,
      onProjectionsItem,
    );
  }

  start();
})();
