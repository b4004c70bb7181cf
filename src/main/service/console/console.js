// The lanepool operator console. Everything it shows comes from the service's authenticated API
// (GET /v1/console every second, GET /v1/console/threads/:id on a look-up); Stop sends
// `thread.session.stop` through POST /v1/threads/:id/intents?wait=true, exactly as any client would.
//
// The bearer token, when the service has one, lives in the `token` variable below and nowhere else:
// not in the URL, not in localStorage, sessionStorage or a cookie. Closing the tab forgets it.
// Every value from the API reaches the page through textContent, never as HTML.
'use strict';

const POLL_MS = 1000;
/** Samples kept for the activity chart: five minutes at one per second. */
const HISTORY = 300;

let token = '';
let timer;
let sort = { key: 'age', descending: true };
let lastSnapshot;
let chart;
const history = [[], [], [], []];

const $ = (id) => document.getElementById(id);

/** fetch() against this origin with the token, if any; resolves with the parsed JSON or throws. */
async function api(method, path, body) {
  const headers = {};
  if (token) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), cache: 'no-store' });
  const data = await res.json().catch(() => ({}));
  if (!res.ok) throw Object.assign(new Error(data.error?.message || `${res.status} ${res.statusText}`), { status: res.status, code: data.error?.code });
  return data;
}

function cell(row, text, className) {
  const td = row.insertCell();
  td.textContent = text;
  if (className) td.className = className;
  return td;
}

function stopButton(threadId) {
  const button = document.createElement('button');
  button.type = 'button';
  button.textContent = 'Stop';
  button.dataset.thread = threadId;
  button.addEventListener('click', () => stop(threadId, button));
  return button;
}

function formatAge(ms) {
  if (ms < 1000) return `${Math.max(0, Math.round(ms))} ms`;
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

function renderShards(shards) {
  const body = $('shards').tBodies[0];
  body.replaceChildren();
  for (const shard of shards) {
    const row = body.insertRow();
    cell(row, String(shard.id));
    cell(row, shard.state, `state-${shard.state}`);
    cell(row, String(shard.queued));
    cell(row, String(shard.running));
    cell(row, String(shard.lanes));
    const reasons = Object.entries(shard.restartsByReason).filter(([, n]) => n > 0).map(([reason, n]) => `${reason}: ${n}`);
    cell(row, reasons.length ? reasons.join(', ') : '0');
  }
}

function renderStuck(snapshot) {
  // Ages from the server's clock, so a skewed client clock cannot misstate them.
  const now = Date.parse(snapshot.now);
  const rows = snapshot.stuck.map((s) => ({ ...s, age: now - Date.parse(s.since) }));
  const { key, descending } = sort;
  rows.sort((a, b) => (a[key] < b[key] ? -1 : a[key] > b[key] ? 1 : 0) * (descending ? -1 : 1));
  const body = $('stuck').tBodies[0];
  body.replaceChildren();
  for (const s of rows) {
    const row = body.insertRow();
    row.dataset.thread = s.threadId;
    cell(row, s.threadId, 'id');
    cell(row, String(s.shard));
    cell(row, s.type);
    cell(row, formatAge(s.age));
    row.insertCell().append(stopButton(s.threadId));
  }
  $('stuck-none').hidden = rows.length > 0;
  $('stuck-after').textContent = `(running longer than ${formatAge(snapshot.stuckAfterMs)}, --stuck-after-ms)`;
}

function renderJetStream(jetstream) {
  $('jetstream').hidden = jetstream === null;
  if (jetstream === null) return;
  const owned = jetstream.partitions.length ? jetstream.partitions.join(', ') : 'none';
  $('jetstream-summary').textContent = `instance ${jetstream.instance} (${jetstream.connected ? 'connected' : 'disconnected'}) owns partitions: ${owned}`;
}

function renderChart(snapshot) {
  const sum = (field) => snapshot.shards.reduce((n, s) => n + s[field], 0);
  const sample = [Date.parse(snapshot.now) / 1000, sum('running'), sum('queued'), snapshot.stuck.length];
  history.forEach((series, i) => {
    series.push(sample[i]);
    if (series.length > HISTORY) series.shift();
  });
  if (typeof uPlot !== 'function') return; // the vendored chart failed to load: the tables still work
  if (chart === undefined) {
    chart = new uPlot({
      width: Math.min(900, $('chart').clientWidth || 900),
      height: 220,
      // A rolling window of HISTORY seconds, so the first samples do not stretch the axis.
      scales: { x: { time: true, range: (_u, _min, max) => [max - HISTORY, max] } },
      series: [{}, { label: 'running', stroke: '#2563eb' }, { label: 'queued', stroke: '#d97706' }, { label: 'stuck', stroke: '#b91c1c' }],
      axes: [{}, { label: 'intents', size: 50 }],
    }, history, $('chart'));
  } else {
    chart.setData(history);
  }
}

function render(snapshot) {
  lastSnapshot = snapshot;
  renderShards(snapshot.shards);
  renderStuck(snapshot);
  renderJetStream(snapshot.jetstream);
  renderChart(snapshot);
}

async function poll() {
  clearTimeout(timer);
  try {
    const snapshot = await api('GET', '/v1/console');
    $('token-form').hidden = true;
    $('main').hidden = false;
    $('status').className = '';
    $('status').textContent = `${snapshot.state} · live · updated ${new Date(snapshot.now).toLocaleTimeString()}`;
    render(snapshot);
  } catch (error) {
    if (error.status === 401) return askForToken(token ? 'wrong token' : '');
    $('status').className = 'stale';
    $('status').textContent = `not live: ${error.message}; retrying`;
  }
  timer = setTimeout(poll, POLL_MS);
}

function askForToken(message) {
  $('main').hidden = true;
  $('token-form').hidden = false;
  $('status').textContent = 'needs the token';
  $('token-error').hidden = !message;
  $('token-error').textContent = message;
  $('token').focus();
}

async function stop(threadId, button) {
  if (button) button.disabled = true;
  $('action').textContent = `stopping ${threadId}…`;
  try {
    const record = await api('POST', `/v1/threads/${encodeURIComponent(threadId)}/intents?wait=true`, { type: 'thread.session.stop', payload: {} });
    $('action').textContent = `stop ${record.intentId} for ${threadId}: ${record.status}`;
  } catch (error) {
    $('action').textContent = `stop for ${threadId} refused: ${error.message}`;
    if (button) button.disabled = false;
  }
  void poll();
  if ($('thread-id').value === threadId) void lookUp(threadId);
}

async function lookUp(threadId) {
  try {
    const view = await api('GET', `/v1/console/threads/${encodeURIComponent(threadId)}`);
    const body = $('thread-intents').tBodies[0];
    body.replaceChildren();
    for (const record of [...view.running, ...view.queued, ...view.settled]) {
      const row = body.insertRow();
      cell(row, record.intentId, 'id');
      cell(row, record.type);
      cell(row, record.status);
      cell(row, record.submittedAt ?? '');
      cell(row, record.startedAt ?? '');
      cell(row, record.settledAt ?? '');
      cell(row, record.error ? `${record.error.code}: ${record.error.message}` : '');
    }
    $('thread-summary').textContent = `${view.threadId} on shard ${view.shard}: ${view.running.length} running, ${view.queued.length} queued, last ${view.settled.length} settled`;
    $('thread').hidden = false;
    $('thread-stop').disabled = false;
  } catch (error) {
    $('thread').hidden = true;
    $('action').textContent = `look-up of ${threadId} failed: ${error.message}`;
  }
}

$('token-form').addEventListener('submit', (event) => {
  event.preventDefault();
  token = $('token').value;
  $('token').value = '';
  void poll();
});

$('search-form').addEventListener('submit', (event) => {
  event.preventDefault();
  void lookUp($('thread-id').value.trim());
});

$('thread-stop').addEventListener('click', (event) => stop($('thread-id').value.trim(), event.currentTarget));

for (const button of document.querySelectorAll('#stuck th button')) {
  button.addEventListener('click', () => {
    const key = button.dataset.sort;
    sort = { key, descending: sort.key === key ? !sort.descending : false };
    if (lastSnapshot) renderStuck(lastSnapshot);
  });
}

void poll();
