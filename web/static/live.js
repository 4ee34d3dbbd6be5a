// The live page, a CQRS lab: forms that send the main commands, the published posts
// (the read side) kept current by GraphQL subscriptions (graphql-transport-ws on
// /graphql), each showing the log position its read model reflects, and beside them the
// log: the newest events (the recent-events read model) and each projection's
// checkpoint against the head, in events and milliseconds. Every write is listed with
// its position, and each projection is ticked off as its checkpoint passes it.
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
    topComments { id body createdAt author { id name } }
    readModelPosition`;
  const PROJECTION_FIELDS = "name position headPosition lag lagMilliseconds";
  const EVENTS_SHOWN = 30;
  // What the page shows at most, whatever an answer holds: a post has at most 3 top
  // comments and 10 tags, and a hostile or broken server sending 20,000 of each froze
  // the tab for 24 s (an outside probe); the server has five projections.
  const TOP_COMMENTS_SHOWN = 3;
  const TAGS_SHOWN = 10;
  const PROJECTIONS_SHOWN = 20;
  // The newest events are read again after projections items, at most this often: on a
  // busy server items come many times a second, and one read each (three writers at
  // their write rate: 563 reads a minute) spent half the address's request rate, and a
  // query cost of 85,000 a minute (docs/security.md).
  const EVENTS_EVERY_MS = 500;
  const TOKEN_KEY = "inkwell-lab-identity";
  // A snapshot or a subscription the server refused is asked for again: after the
  // refusal's retryAfter when it gives one (RATE_LIMITED), else after a wait that doubles
  // up to the most. The page stayed empty, or without live updates, until reloaded.
  const RETRY_FIRST_MS = 2000;
  const RETRY_MOST_MS = 60000;

  const state = {
    posts: new Map(), // post id -> the newest state seen
    gone: new Map(), // post id -> the version at which the feed said it left (archived)
    held: null, // feed items that arrive while a snapshot loads, applied after it
    resyncOnNextItem: false,
    connection: "connecting",
    identity: null, // {userId, name, token} once registered in this tab
    projections: [], // the newest statuses, with the moment they arrived
    projectionsAt: 0,
    writes: [], // {position, acknowledgedAt, reached: Map(name -> ms)}
    snapshotRetries: 0,
    snapshotTimer: null,
    eventsLoading: null,
    eventsAgain: false,
    eventsReadAt: 0, // when the newest events were last asked for (Date.now())
    eventsTimer: null, // a read waiting for EVENTS_EVERY_MS to pass
  };

  const $ = (id) => document.getElementById(id);

  // A token the server no longer verifies is a 401, whichever request meets it (it
  // expired, or the server signs with another key now): the tab forgets it, and a read
  // is made again as an anonymous reader. The events pane read with the token restored
  // from sessionStorage and failed on every refresh until a write met the 401.
  async function graphql(query, variables, token, { read = false } = {}) {
    try {
      return await request(query, variables, token);
    } catch (error) {
      if (error.status !== 401 || !token) throw error;
      if (state.identity && state.identity.token === token) forgetIdentity();
      if (!read) throw error;
      return request(query, variables, null);
    }
  }

  async function request(query, variables, token) {
    const headers = { "content-type": "application/json", accept: "application/json" };
    if (token) headers.authorization = `Bearer ${token}`;
    const response = await fetch(ENDPOINT, {
      method: "POST",
      headers,
      body: JSON.stringify({ query, variables: variables || {} }),
    });
    let body = null;
    try {
      body = await response.json();
    } catch (_) {
      body = null;
    }
    if (body && body.errors && body.errors.length) {
      const error = failure(body.errors.map(errorText).join("; "), response.status);
      error.retryAfter = retryAfter(body.errors);
      throw error;
    }
    if (!response.ok || !body) {
      throw failure(`${ENDPOINT} answered HTTP ${response.status}`, response.status);
    }
    return body.data;
  }

  function failure(message, status) {
    const error = new Error(message);
    error.status = status;
    return error;
  }

  function retryAfter(errors) {
    const seconds = errors.map((error) => (error.extensions || {}).retryAfter);
    const given = seconds.filter((value) => typeof value === "number");
    return given.length ? Math.max(...given) : null;
  }

  function retryDelay(error, retries) {
    if (error && typeof error.retryAfter === "number") return error.retryAfter * 1000;
    return Math.min(RETRY_FIRST_MS * 2 ** retries, RETRY_MOST_MS);
  }

  function errorText(error) {
    const extensions = error.extensions || {};
    const detail = extensions.reason || extensions.field;
    const code = extensions.code ? ` (${extensions.code}${detail ? `: ${detail}` : ""})` : "";
    return `${error.message}${code}`;
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

  // Loads the snapshot, and again later if the server refuses it (a query cost budget
  // spent by reloads from one address): the page showed no posts, said "live", and
  // never asked again.
  async function refreshSnapshot() {
    clearTimeout(state.snapshotTimer);
    state.snapshotTimer = null;
    try {
      await loadSnapshot();
      state.snapshotRetries = 0;
    } catch (error) {
      showProblem(`could not load the posts: ${describe(error)}`);
      const delay = retryDelay(error, state.snapshotRetries);
      state.snapshotRetries += 1;
      state.snapshotTimer = setTimeout(refreshSnapshot, delay);
    }
  }

  function replacePosts(posts) {
    const next = new Map();
    for (const post of posts) {
      const known = state.posts.get(post.id);
      if ((state.gone.get(post.id) || 0) >= post.version) continue; // a snapshot behind the feed
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
    if (post.status === "PUBLISHED") {
      state.posts.set(post.id, post);
    } else {
      state.posts.delete(post.id);
      state.gone.set(post.id, post.version);
    }
    render();
    // A shown post archived leaves a place that only the read model can fill: the list
    // shrank for good, and with the 20 shown archived it said "No published posts yet."
    if (known && post.status !== "PUBLISHED" && !state.held && !state.snapshotTimer) {
      refreshSnapshot();
    }
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
    const item = $("post").content.firstElementChild.cloneNode(true);
    const result = item.querySelector(".result");
    item.querySelector(".like").addEventListener("click", () =>
      write(result, "likePost", LIKE, { input: { postId: item.dataset.postId } }),
    );
    const form = item.querySelector(".comment-form");
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const body = form.elements.body.value;
      write(result, "addComment", ADD_COMMENT, { input: { postId: item.dataset.postId, body } }).then(
        (done) => {
          if (done) form.reset();
        },
      );
    });
    enableWrites(item);
    return item;
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
    setText(item, ".tags", post.tags.slice(0, TAGS_SHOWN).map((tag) => `#${tag}`).join(" "));
    setText(item, ".content", preview(post.content));
    setText(item, ".likes", String(post.likeCount));
    setText(item, ".likes-label", post.likeCount === 1 ? "like" : "likes");
    setText(item, ".comments", String(post.commentCount));
    setText(item, ".comments-label", post.commentCount === 1 ? "comment" : "comments");
    const reflected = post.readModelPosition;
    item.dataset.readModelPosition = reflected == null ? "" : String(reflected);
    setText(item, ".read-position", reflected == null ? "" : `· read model at position ${reflected}`);
    fillComments(item.querySelector(".top-comments"), post.topComments);
    if (before !== undefined && before !== counts) flash(item);
  }

  function fillComments(list, comments) {
    list.hidden = !comments || comments.length === 0;
    list.replaceChildren(
      ...(comments || []).slice(0, TOP_COMMENTS_SHOWN).map((comment) => {
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
    if (text.length <= PREVIEW_LENGTH) return text;
    // Whole characters: cut between the two halves of a pair, an emoji showed as U+FFFD.
    const last = text.charCodeAt(PREVIEW_LENGTH - 1);
    const end = last >= 0xd800 && last <= 0xdbff ? PREVIEW_LENGTH - 1 : PREVIEW_LENGTH;
    return `${text.slice(0, end)}…`;
  }

  function flash(item) {
    item.classList.remove("changed");
    void item.offsetWidth; // restarts the animation
    item.classList.add("changed");
  }

  // -- projections and connection status ----------------------------------------

  function showProjections(answered) {
    // 3,000 behind, from a hostile server, made each 100 ms tick search the table once
    // per row (an outside probe: 0.25-1.9 s a tick); the rows are now looked up by name.
    const statuses = answered.slice(0, PROJECTIONS_SHOWN);
    const lag = statuses.reduce((most, status) => Math.max(most, status.lag), 0);
    const indicator = $("lag");
    indicator.dataset.lag = String(lag);
    indicator.classList.toggle("behind", lag > 0);
    indicator.textContent =
      lag === 0 ? "read models: up to date" : `read models: ${lag} event${lag === 1 ? "" : "s"} behind`;
    indicator.title = statuses
      .map((status) => `${status.name}: ${status.position} of ${status.headPosition}`)
      .join("\n");
    state.projections = statuses;
    state.projectionsAt = performance.now();
    fillProjectionTable();
    markReached();
  }

  function fillProjectionTable() {
    const body = $("projections").tBodies[0];
    const rows = new Map([...body.rows].map((row) => [row.dataset.projection, row]));
    state.projections.forEach((status, index) => {
      let row = rows.get(status.name);
      rows.delete(status.name);
      if (!row) {
        row = body.insertRow(index);
        row.dataset.projection = status.name;
        for (let cell = 0; cell < 5; cell += 1) row.insertCell();
      }
      row.classList.toggle("behind", status.lag > 0);
      row.dataset.lag = String(status.lag);
      row.cells[0].textContent = status.name;
      row.cells[1].textContent = String(status.position);
      row.cells[2].textContent = String(status.headPosition);
      row.cells[3].textContent = status.lag === 0 ? "0" : `${status.lag} event${status.lag === 1 ? "" : "s"}`;
      row.cells[4].textContent = waitingText(status);
    });
    rows.forEach((row) => row.remove());
  }

  // The server measured the wait when it answered; while a projection stays behind, the
  // page adds the time since, so the figure keeps counting between updates.
  function waitingText(status) {
    if (status.lag === 0) return "0 ms";
    if (status.lagMilliseconds == null) return "long";
    const since = Math.round(performance.now() - state.projectionsAt);
    return `${status.lagMilliseconds + since} ms`;
  }

  function tickWaiting() {
    const rows = new Map([...$("projections").tBodies[0].rows].map((row) => [row.dataset.projection, row]));
    state.projections.forEach((status) => {
      const row = rows.get(status.name);
      if (row && status.lag > 0) row.cells[4].textContent = waitingText(status);
    });
  }

  // -- the log: the newest events -------------------------------------------------

  function refreshEvents() {
    if (state.eventsLoading) {
      state.eventsAgain = true;
      return;
    }
    if (state.eventsTimer) return; // the read already due will see this change too
    const wait = state.eventsReadAt + EVENTS_EVERY_MS - Date.now();
    if (wait > 0) {
      state.eventsTimer = setTimeout(() => {
        state.eventsTimer = null;
        refreshEvents();
      }, wait);
      return;
    }
    state.eventsReadAt = Date.now();
    state.eventsLoading = graphql(
      `query LabEvents($first: Int) {
        recentEvents(first: $first) { position type streamId version recordedAt }
      }`,
      { first: EVENTS_SHOWN },
      // Signed in, the tab's user also sees the events of their own drafts.
      state.identity && state.identity.token,
      { read: true },
    )
      .then((data) => showEvents((data && data.recentEvents) || []))
      .catch((error) => showProblem(`could not load the events: ${describe(error)}`))
      .finally(() => {
        state.eventsLoading = null;
        if (state.eventsAgain) {
          state.eventsAgain = false;
          refreshEvents();
        }
      });
  }

  function showEvents(answered) {
    const events = answered.slice(0, EVENTS_SHOWN); // 50,000 made 250,102 elements
    const list = $("events");
    const known = new Map([...list.children].map((item) => [item.dataset.position, item]));
    const items = events.map((event) => {
      const key = String(event.position);
      let item = known.get(key);
      if (!item) {
        item = $("event").content.firstElementChild.cloneNode(true);
        item.dataset.position = key;
        setText(item, ".event-position", `#${event.position}`);
        setText(item, ".event-type", event.type);
        setText(item, ".event-stream", `${event.streamId} v${event.version}`);
        const time = item.querySelector(".event-time");
        time.dateTime = event.recordedAt;
        time.textContent = new Date(event.recordedAt).toLocaleTimeString();
        if (list.children.length > 0) flash(item);
      }
      return item;
    });
    list.replaceChildren(...items);
    $("no-events").hidden = events.length > 0;
  }

  // -- writes ---------------------------------------------------------------------

  const REGISTER = `mutation LabRegister($input: RegisterUserInput!) {
    registerUser(input: $input) { token userId position } }`;
  const CREATE = `mutation LabCreate($input: CreatePostInput!) {
    createPost(input: $input) { postId position } }`;
  const PUBLISH = `mutation LabPublish($input: PostCommandInput!) {
    publishPost(input: $input) { position } }`;
  const LIKE = `mutation LabLike($input: PostCommandInput!) {
    likePost(input: $input) { position } }`;
  const ADD_COMMENT = `mutation LabComment($input: AddCommentInput!) {
    addComment(input: $input) { commentId position } }`;

  // Selecting only ids and `position`, a mutation answers as soon as its events are in
  // the log, without waiting for the read models: the lesson is the wait after.
  async function write(result, field, mutation, variables, label) {
    const token = state.identity && state.identity.token;
    if (field !== "registerUser" && !token) {
      result.textContent = "Register first.";
      return null;
    }
    result.textContent = "sending…";
    result.classList.remove("failed");
    try {
      const data = await graphql(mutation, variables, field === "registerUser" ? null : token);
      const answer = data[field];
      const position = Number(answer.position);
      result.textContent = `in the log at position ${position}`;
      recordWrite(label || field, position);
      return answer;
    } catch (error) {
      result.textContent = describe(error);
      result.classList.add("failed");
      return null;
    }
  }

  function recordWrite(label, position) {
    const entry = { position, acknowledgedAt: performance.now(), reached: new Map() };
    state.writes.unshift(entry);
    state.writes.length = Math.min(state.writes.length, 10);
    const item = $("write").content.firstElementChild.cloneNode(true);
    item.dataset.position = String(position);
    setText(item, ".write-command", label);
    setText(item, ".write-position", String(position));
    entry.item = item;
    $("writes").prepend(item);
    while ($("writes").children.length > state.writes.length) $("writes").lastElementChild.remove();
    $("no-writes").hidden = true;
    markReached();
    refreshEvents();
  }

  // Ticks off, for each write, the projections whose checkpoint has passed its position,
  // with how long after the write's acknowledgement the page learnt of it.
  function markReached() {
    const now = performance.now();
    state.writes.forEach((entry) => {
      state.projections.forEach((status) => {
        if (status.position >= entry.position && !entry.reached.has(status.name)) {
          entry.reached.set(status.name, Math.round(now - entry.acknowledgedAt));
        }
      });
      const chips = state.projections.map((status) => {
        const chip = document.createElement("span");
        chip.className = "chip";
        chip.dataset.projection = status.name;
        const ms = entry.reached.get(status.name);
        chip.dataset.reached = ms === undefined ? "no" : "yes";
        chip.textContent = ms === undefined ? `${status.name} …` : `${status.name} +${ms} ms`;
        return chip;
      });
      if (entry.item) entry.item.querySelector(".reached").replaceChildren(...chips);
    });
  }

  function setIdentity(identity) {
    state.identity = identity;
    const element = $("identity");
    element.dataset.userId = identity ? identity.userId : "";
    element.textContent = identity
      ? `Writing as ${identity.name} (the token stays in this tab).`
      : "Not registered: register to write.";
    enableWrites(document);
  }

  // A 401 (graphql above): the tab's token no longer verifies. It expired, or the server
  // signs with another key now (started on a new data directory, say). The tab forgets
  // it, reads on as an anonymous reader, and asks for a new registration to write again.
  function forgetIdentity() {
    sessionStorage.removeItem(TOKEN_KEY);
    setIdentity(null);
    $("identity").textContent =
      "Your token is no longer valid (it expired, or the server has a new key): register again to write.";
  }

  function enableWrites(root) {
    root.querySelectorAll(".needs-user").forEach((button) => {
      button.disabled = !state.identity;
    });
  }

  function setUpForms() {
    const register = $("register");
    register.addEventListener("submit", async (event) => {
      event.preventDefault();
      const name = register.elements.name.value;
      const result = register.querySelector(".result");
      const answer = await write(result, "registerUser", REGISTER, { input: { name } }, "registerUser");
      if (answer) {
        const identity = { userId: answer.userId, name, token: answer.token };
        sessionStorage.setItem(TOKEN_KEY, JSON.stringify(identity));
        setIdentity(identity);
        register.reset();
      }
    });

    const create = $("create");
    create.addEventListener("submit", async (event) => {
      event.preventDefault();
      const fields = create.elements;
      const tags = fields.tags.value
        .split(",")
        .map((tag) => tag.trim())
        .filter((tag) => tag);
      const input = { title: fields.title.value, content: fields.content.value, tags };
      const answer = await write(create.querySelector(".result"), "createPost", CREATE, { input });
      if (answer) {
        addDraft(answer.postId, input.title);
        create.reset();
      }
    });

    try {
      const saved = JSON.parse(sessionStorage.getItem(TOKEN_KEY) || "null");
      if (saved && typeof saved.token === "string") setIdentity(saved);
    } catch (_) {
      sessionStorage.removeItem(TOKEN_KEY);
    }
  }

  function addDraft(postId, title) {
    const item = $("draft").content.firstElementChild.cloneNode(true);
    item.dataset.postId = postId;
    setText(item, ".draft-title", title);
    item.querySelector(".publish").addEventListener("click", async () => {
      const answer = await write(item.querySelector(".result"), "publishPost", PUBLISH, {
        input: { postId },
      });
      if (answer) {
        item.remove();
        $("no-drafts").hidden = $("drafts").children.length > 0;
      }
    });
    $("drafts").append(item);
    $("no-drafts").hidden = true;
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

  // A subscription the server refuses (the address's subscription budget, held by its
  // other tabs) is asked for again until it is taken: the tab stayed "unavailable" after
  // the budget had freed. Once it runs again, the snapshot is read anew.
  function subscribe(client, query, onData, retries = 0) {
    let running = false;
    client.subscribe(
      { query },
      {
        next: (result) => {
          if (!running && retries > 0) {
            refreshSnapshot();
            setConnection("live");
          }
          running = true;
          if (result.errors && result.errors.length) showProblem(describe(result.errors));
          if (result.data) onData(result.data);
        },
        error: (error) => {
          setConnection("unavailable");
          showProblem(`live updates unavailable: ${describe(error)}`);
          const again = running ? 0 : retries;
          setTimeout(
            () => subscribe(client, query, onData, again + 1),
            retryDelay(error, again),
          );
        },
        complete: () => {},
      },
    );
  }

  function onProjectionsItem(data) {
    showProjections(data.projections);
    refreshEvents();
    if (state.resyncOnNextItem) {
      state.resyncOnNextItem = false;
      if (state.connection !== "unavailable") setConnection("live");
      refreshSnapshot();
    }
  }

  async function start() {
    setUpForms();
    refreshEvents();
    setInterval(tickWaiting, 100);
    await refreshSnapshot();
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
