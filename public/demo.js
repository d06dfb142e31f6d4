// The demo page: watches tasks through the gateway's own typed client (@task-status/client),
// served by the gateway at /client/. Plain ES module, no build step, no framework.

const $ = (selector) => document.querySelector(selector);
const connection = $('#connection');
const connectionText = $('#connection-text');
const form = $('#watch-form');
const input = $('#task-id');
const hint = $('#form-hint');
const simulateButton = $('#simulate');
const list = $('#tasks');
const empty = $('#empty');
const count = $('#task-count');
const template = $('#task-template');

const STORAGE_KEY = 'task-status-demo:tasks';
const DEFAULT_HINT = hint.textContent.trim();
const TONES = {
  queued: 'queued',
  pending: 'queued',
  waiting: 'queued',
  processing: 'active',
  running: 'active',
  in_progress: 'active',
  started: 'active',
  completed: 'done',
  succeeded: 'done',
  success: 'done',
  done: 'done',
  failed: 'failed',
  error: 'failed',
  cancelled: 'cancelled',
  canceled: 'cancelled',
};

/** taskId -> { element, updatedAt } */
const cards = new Map();

const wsUrl = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`;
$('#ws-url').textContent = wsUrl;

// ?transport=websocket|sse forces one; the default, auto, falls back to Server-Sent Events when
// a WebSocket cannot open (a proxy that refuses upgrades).
const TRANSPORTS = ['auto', 'websocket', 'sse'];
const askedTransport = new URLSearchParams(location.search).get('transport') ?? 'auto';
const transportOption = TRANSPORTS.includes(askedTransport) ? askedTransport : 'auto';
const transportText = $('#transport');
const transportPicker = $('#transport-picker');
transportPicker.value = transportOption;
transportPicker.addEventListener('change', () => {
  const url = new URL(location.href);
  if (transportPicker.value === 'auto') url.searchParams.delete('transport');
  else url.searchParams.set('transport', transportPicker.value);
  location.assign(url);
});

let client;
let TASK_ID_PATTERN;
try {
  const typedClient = await import('/client/index.js');
  TASK_ID_PATTERN = typedClient.TASK_ID_PATTERN;
  client = new typedClient.TaskStatusClient({ url: wsUrl, transport: transportOption });
} catch (error) {
  showConnection('closed', 'Client not available');
  say(
    'The typed client could not be loaded from /client/ (build it with npm run build --prefix client): ' +
      error.message,
    'error',
  );
  throw error;
}

function showTransport(transport) {
  transportText.textContent = transport === 'sse' ? 'Server-Sent Events' : 'WebSocket';
  transportText.dataset.transport = transport;
  $('#ws-url').textContent = transport === 'sse' ? '/tasks/events' : wsUrl;
}
showTransport(client.transport);
client.on('transport', showTransport);
if (askedTransport !== transportOption) {
  say(`Unknown transport ${JSON.stringify(askedTransport)}: use auto, websocket or sse.`, 'error');
}

client.on('state', ({ state, delayMs, reason }) => {
  switch (state) {
    case 'connecting':
      showConnection(state, 'Connecting…');
      break;
    case 'open':
      showConnection(state, 'Connected');
      break;
    case 'reconnecting':
      showConnection(state, `Reconnecting in ${(delayMs / 1000).toFixed(1)} s`, reason);
      break;
    case 'closed':
      showConnection(state, 'Disconnected');
      break;
  }
});

client.on('subscribed', (taskId) => {
  const card = cards.get(taskId);
  if (card && card.updatedAt === undefined) {
    card.element.querySelector('.task-message').textContent = 'Subscribed; waiting for an update…';
  }
});

client.on('status_update', ({ taskId, data, snapshot }) => render(taskId, data, snapshot));

client.on('error', (error) => {
  const card = error.task_id && cards.get(error.task_id);
  if (card) {
    card.element.dataset.tone = 'failed';
    card.element.querySelector('.task-status').textContent = 'refused';
    card.element.querySelector('.task-message').textContent = `${error.code}: ${error.message}`;
  } else {
    say(`The gateway answered ${error.code}: ${error.message}`, 'error');
  }
});

client.connect();

// Tasks from the address (?task=a,b) and from the last visit.
const fromQuery = new URLSearchParams(location.search).getAll('task').join(',');
for (const taskId of [...stored(), ...parseIds(fromQuery)]) {
  if (TASK_ID_PATTERN.test(taskId)) watch(taskId);
}

form.addEventListener('submit', (event) => {
  event.preventDefault();
  const ids = parseIds(input.value);
  if (ids.length === 0) {
    say('Enter a task id first.', 'error');
    return;
  }
  const invalid = ids.filter((id) => !TASK_ID_PATTERN.test(id));
  if (invalid.length > 0) {
    say(`Not a valid task id: ${invalid.join(', ')} (1–128 of A–Z a–z 0–9 _ . : -)`, 'error');
    return;
  }
  for (const id of ids) watch(id);
  input.value = '';
  say(DEFAULT_HINT);
});

if (document.documentElement.dataset.simulate === 'true') {
  simulateButton.hidden = false;
  simulateButton.addEventListener('click', () => void simulate());
}

// Keeps the "3 s ago" labels current.
setInterval(() => {
  for (const card of cards.values()) showAge(card);
}, 1000);

function watch(taskId) {
  if (cards.has(taskId)) {
    cards.get(taskId).element.scrollIntoView({ block: 'nearest', behavior: 'smooth' });
    return;
  }
  const element = template.content.firstElementChild.cloneNode(true);
  element.dataset.taskId = taskId;
  element.querySelector('.task-id').textContent = taskId;
  element.querySelector('.task-id').title = taskId;
  element.querySelector('.remove').addEventListener('click', () => unwatch(taskId));
  const card = { element, updatedAt: undefined };
  cards.set(taskId, card);
  list.prepend(element);
  client.subscribe(taskId);
  // The client keeps states across reconnects; show one it already holds.
  const latest = client.latest(taskId);
  if (latest) render(taskId, latest.data, latest.snapshot);
  changed();
}

function unwatch(taskId) {
  const card = cards.get(taskId);
  if (!card) return;
  client.unsubscribe(taskId);
  card.element.remove();
  cards.delete(taskId);
  changed();
}

function render(taskId, data, snapshot) {
  const card = cards.get(taskId);
  if (!card) return;
  const { element } = card;
  const status = typeof data.status === 'string' && data.status !== '' ? data.status : 'update';
  const tone = TONES[status.toLowerCase()] ?? 'active';
  let progress = typeof data.progress === 'number' ? data.progress : undefined;
  if (progress === undefined && tone === 'done') progress = 100;
  if (progress !== undefined) progress = Math.min(100, Math.max(0, progress));

  element.dataset.tone = tone;
  element.dataset.status = status;
  element.querySelector('.task-status').textContent = status;
  element.querySelector('.snapshot').hidden = !snapshot;

  const bar = element.querySelector('.bar');
  const fill = element.querySelector('.fill');
  const percent = element.querySelector('.percent');
  const finished = tone === 'done' || tone === 'failed' || tone === 'cancelled';
  if (progress === undefined) {
    bar.dataset.indeterminate = String(!finished);
    bar.removeAttribute('aria-valuenow');
    fill.style.width = finished ? '0%' : '';
    percent.textContent = '';
  } else {
    bar.dataset.indeterminate = 'false';
    bar.setAttribute('aria-valuenow', String(Math.round(progress)));
    fill.style.width = `${progress}%`;
    percent.textContent = `${Math.round(progress)}%`;
  }

  const message =
    typeof data.message === 'string'
      ? data.message
      : typeof data.error === 'string'
        ? data.error
        : '';
  element.querySelector('.task-message').textContent = message;
  const updatedAt = Date.parse(typeof data.updated_at === 'string' ? data.updated_at : '');
  card.updatedAt = Number.isNaN(updatedAt) ? Date.now() : updatedAt;
  showAge(card);
}

function showAge(card) {
  if (card.updatedAt === undefined) return;
  const seconds = Math.max(0, Math.round((Date.now() - card.updatedAt) / 1000));
  const label =
    seconds < 5
      ? 'just now'
      : seconds < 60
        ? `${seconds} s ago`
        : seconds < 3600
          ? `${Math.floor(seconds / 60)} min ago`
          : new Date(card.updatedAt).toLocaleTimeString();
  card.element.querySelector('.updated').textContent = label;
}

async function simulate() {
  simulateButton.disabled = true;
  try {
    const response = await fetch('/demo/simulate', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: '{}',
    });
    const body = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(body.message ?? `HTTP ${response.status}`);
    watch(body.task_id);
    say(`Simulating ${body.task_id}: ${body.steps} updates, one every ${body.step_ms} ms.`);
  } catch (error) {
    say(`Could not start a simulated task: ${error.message}`, 'error');
  } finally {
    simulateButton.disabled = false;
  }
}

function changed() {
  count.textContent = String(cards.size);
  empty.hidden = cards.size > 0;
  try {
    localStorage.setItem(STORAGE_KEY, JSON.stringify([...cards.keys()].reverse()));
  } catch {
    // Storage may be unavailable (private mode); the page works without it.
  }
}

function stored() {
  try {
    const ids = JSON.parse(localStorage.getItem(STORAGE_KEY) ?? '[]');
    return Array.isArray(ids) ? ids.filter((id) => typeof id === 'string') : [];
  } catch {
    return [];
  }
}

function parseIds(text) {
  return [...new Set(text.split(/[\s,]+/).filter((id) => id !== ''))];
}

function showConnection(state, text, reason) {
  connection.dataset.state = state;
  connectionText.textContent = text;
  connection.title = reason ? `Last connection ended: ${reason}` : wsUrl;
}

function say(text, kind = 'info') {
  hint.textContent = text;
  hint.dataset.kind = kind;
}
