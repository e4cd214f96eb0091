// The next step shown while the model writes it. This spec starts its own FlowPilot server,
// configured with an OpenAI-compatible provider that is a slow streaming fake run inside the
// test (a few characters every 60 ms, the way a small local model on a CPU writes), and
// checks that the session page shows the step's text forming in its "writing…" region before
// the step is complete, then the validated step. It also reports the time to the first
// visible text and to the whole step (docs/benchmarks.md has the figures).
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { mkdtempSync, openSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { OUTLOOK_PROBLEM, currentStep, expect, newPerson, signUp, startSession, test } from './fixtures';

function freePort(): number {
  const script =
    "const s=require('net').createServer();s.listen(0,'127.0.0.1',()=>{process.stdout.write(String(s.address().port));s.close();});";
  return Number(execFileSync(process.execPath, ['-e', script], { encoding: 'utf8' }).trim());
}

const serverPort = freePort();
const fakePort = freePort();
const base = `http://127.0.0.1:${serverPort}`;

/** How the fake writes: pieces of this many characters, this far apart. */
const PIECE_CHARS = 8;
const PAUSE_MS = Number(process.env.E2E_STREAM_PAUSE_MS ?? 60);
/** When set, the fake's next stream is cut (the connection destroyed) after this many pieces. */
let dropAfterPieces: number | null = null;

const CONTENT =
  'Does the password prompt come back in Outlook on the desktop only, or in Outlook on the web and on phones as well?';
const CONTEXT =
  'If the web and phones prompt too, the account itself (password, MFA, conditional access) is the suspect; if only the desktop does, it is the Outlook profile or cached credentials.';

/** A step the request's schema allows, the way the Rust fakes build one. */
function stepFor(body: any): string {
  const props = body?.response_format?.json_schema?.schema?.properties ?? {};
  const nodes: unknown[] = (props.flow_node?.enum ?? []).filter((v: unknown) => v !== null);
  const pinned = nodes.length === 1 ? nodes[0] : null;
  const values: string[] = props.options?.items?.properties?.value?.enum?.filter((v: unknown) => v !== null) ?? [
    'desktop_only',
    'everywhere',
  ];
  const type = (props.type?.enum ?? ['question'])[0];
  const step: Record<string, unknown> = {
    type,
    content: CONTENT,
    context_message: CONTEXT,
    reasoning: 'Separating client from account halves the search.',
    options: values.map((v) => ({ label: v.replace(/_/g, ' '), value: v, followup_hint: null })),
    allow_free_text: true,
    allow_skip: false,
    action_type: null,
    expected_outcome: null,
    resolution_summary: null,
    follow_up_recommendations: [],
    confidence: 0.4,
    problem_summary: 'Outlook keeps prompting for the password',
    problem_domain: 'email',
  };
  if (props.flow_node) step.flow_node = pinned;
  return JSON.stringify(step);
}

function chunk(model: string, delta: object, finish: string | null = null): string {
  return `data: ${JSON.stringify({ id: 'chatcmpl-slow', object: 'chat.completion.chunk', model, choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
}

async function answer(req: IncomingMessage, res: ServerResponse): Promise<void> {
  let raw = '';
  for await (const part of req) raw += part;
  let body: any = {};
  try {
    body = JSON.parse(raw);
  } catch {
    // not JSON: answered with a step all the same
  }
  const text = stepFor(body);
  const model = 'slow-local-model';
  if (body.stream !== true) {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({
      id: 'chatcmpl-whole', object: 'chat.completion', model,
      choices: [{ index: 0, finish_reason: 'stop', message: { role: 'assistant', content: text } }],
      usage: { prompt_tokens: 900, completion_tokens: 160 },
    }));
    return;
  }
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  res.write(chunk(model, { role: 'assistant', content: '' }));
  const cut = dropAfterPieces;
  dropAfterPieces = null;
  for (let i = 0, pieces = 0; i < text.length; i += PIECE_CHARS, pieces++) {
    await new Promise((r) => setTimeout(r, PAUSE_MS));
    if (res.destroyed) return;
    if (cut !== null && pieces >= cut) {
      res.destroy();
      return;
    }
    res.write(chunk(model, { content: text.slice(i, i + PIECE_CHARS) }));
  }
  res.write(chunk(model, {}, 'stop'));
  res.write(`data: ${JSON.stringify({ id: 'chatcmpl-slow', object: 'chat.completion.chunk', model, choices: [], usage: { prompt_tokens: 900, completion_tokens: 160 } })}\n\n`);
  res.end('data: [DONE]\n\n');
}

let fake: Server;
let server: ChildProcess;
let data: string;

test.use({ baseURL: base });

test.beforeAll(async () => {
  fake = createServer((req, res) => {
    answer(req, res).catch(() => res.destroy());
  });
  await new Promise<void>((resolve) => fake.listen(fakePort, '127.0.0.1', resolve));

  data = mkdtempSync(path.join(tmpdir(), 'flowpilot-e2e-stream-'));
  const log = openSync(path.join(__dirname, '..', 'artifacts', 'server-streaming.log'), 'w');
  server = spawn(process.env.E2E_BIN!, ['serve'], {
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: data,
      FLOWPILOT_BIND: `127.0.0.1:${serverPort}`,
      FLOWPILOT_DATABASE_URL: `sqlite://${path.join(data, 'flowpilot.db')}`,
      FLOWPILOT_ALLOW_SIGNUP: 'true',
      FLOWPILOT_LLM_PROVIDER: 'openai',
      OPENAI_BASE_URL: `http://127.0.0.1:${fakePort}/v1`,
      FLOWPILOT_OPENAI_MODEL: 'slow-local-model',
      FLOWPILOT_OPENAI_STRUCTURED: 'strict',
      FLOWPILOT_RATE_LIMITS: 'on',
      FLOWPILOT_SIGNUPS_PER_MINUTE: '1000',
      RUST_LOG: 'info',
      NO_COLOR: '1',
    },
    stdio: ['ignore', log, log],
  });
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      if ((await fetch(`${base}/readyz`)).status === 200) break;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline || server.exitCode !== null) throw new Error('the streaming server did not start');
    await new Promise((r) => setTimeout(r, 200));
  }
});

test.afterAll(async () => {
  if (server && server.exitCode === null) {
    const stopped = new Promise<void>((resolve) => server.once('exit', () => resolve()));
    server.kill('SIGTERM');
    await stopped;
  }
  await new Promise<void>((resolve) => (fake ? fake.close(() => resolve()) : resolve()));
  if (data) rmSync(data, { recursive: true, force: true });
});

test('the next step is shown forming while the model writes it, then the validated step', async ({ page, shots }) => {
  await signUp(page, newPerson('Streaming'));
  await startSession(page, OUTLOOK_PROBLEM);
  const step = currentStep(page);
  await expect(step.getByRole('heading')).toContainText(CONTENT.slice(0, 30));
  const firstStepUrl = page.url();
  const forming = page.locator('#step-forming');
  await expect(forming).toBeHidden();

  const clicked = Date.now();
  await step.getByRole('button', { name: /desktop only/ }).click();

  // Text appears in the "writing…" region while the page is still the same step's.
  const text = forming.locator('[data-forming-text]');
  await expect(text.locator('.step-content')).not.toBeEmpty({ timeout: 15_000 });
  const firstText = Date.now();
  await expect(forming).toBeVisible();
  await expect(forming).toContainText('writing…');
  await expect(text).toHaveAttribute('aria-live', 'polite');
  expect(page.url()).toBe(firstStepUrl);
  await expect(page.locator('.step-past')).toHaveCount(0);
  const partial = await text.locator('.step-content').textContent();
  expect(CONTENT.startsWith(partial ?? '')).toBe(true);
  expect((partial ?? '').length).toBeLessThan(CONTENT.length);
  await shots.take(page, 'step-forming');

  // More of it arrives.
  await expect(text.locator('.hint')).not.toBeEmpty({ timeout: 15_000 });
  await expect(text.locator('li').first()).not.toBeEmpty({ timeout: 15_000 });
  await shots.take(page, 'step-nearly-written');

  // Then the validated step, stored: the page shows it as the current step.
  await expect(page.locator('.step-past')).toHaveCount(1, { timeout: 20_000 });
  const whole = Date.now();
  await expect(step.getByRole('heading')).toContainText(CONTENT);
  await expect(step).toContainText('Step 2');
  await expect(page.locator('#step-forming')).toBeHidden();
  await shots.take(page, 'step-complete');

  const figures = {
    piece_chars: PIECE_CHARS,
    pause_ms: PAUSE_MS,
    first_visible_text_ms: firstText - clicked,
    whole_step_ms: whole - clicked,
  };
  console.log(`streaming figures: ${JSON.stringify(figures)}`);
  test.info().annotations.push({ type: 'streaming', description: JSON.stringify(figures) });
});

test('a stream the provider drops halfway shows the failure in place and keeps the typed answer', async ({ page, shots }) => {
  await signUp(page, newPerson('StreamingDropped'));
  await startSession(page, OUTLOOK_PROBLEM);
  const step = currentStep(page);
  const typed = 'Only on the desktop, typed before the provider dropped the stream';
  dropAfterPieces = 12;
  await step.getByLabel('Your answer').fill(typed);
  await step.getByRole('button', { name: 'Send', exact: true }).click();

  // Some of the step formed before the provider went away...
  const forming = page.locator('#step-forming');
  await expect(forming.locator('.step-content')).not.toBeEmpty({ timeout: 15_000 });
  await shots.take(page, 'forming-before-the-drop');

  // ...then the failure, in place: nothing stored, the answer still typed, the form usable.
  const alert = step.locator('[data-stream-trouble]');
  await expect(alert).toBeVisible({ timeout: 20_000 });
  await expect(alert).toContainText('The AI provider could not answer');
  await expect(forming).toBeHidden();
  await expect(step.getByLabel('Your answer')).toHaveValue(typed);
  await expect(step.getByRole('button', { name: 'Send', exact: true })).toBeEnabled();
  await expect(page.locator('.step-past')).toHaveCount(0);
  await shots.take(page, 'provider-dropped');

  // Sending again works: the failed call consumed nothing.
  await step.getByRole('button', { name: 'Send', exact: true }).click();
  await expect(page.locator('.step-past')).toHaveCount(1, { timeout: 20_000 });
  await expect(page.locator('.step-past')).toContainText(typed);
});
