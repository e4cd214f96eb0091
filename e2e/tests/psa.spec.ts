// PSA intake in the browser: an admin connects a (fake) ConnectWise PSA on the settings page
// and tests it, then picks an open ticket on the intake page without typing a description;
// the session's sidebar shows the ticket card with a link to the ticket. The fake is a tiny
// Node HTTP server speaking ConnectWise's REST API 3.0, started by this spec on a free port;
// it keeps the notes FlowPilot posts, so the write-back tests read what reached the ticket.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { APIRequestContext, Page } from '@playwright/test';
import { apiToken, currentStep, expect, newPerson, sidebar, signUp, test } from './fixtures';

const CREDENTIALS = { company_id: 'acme', public_key: 'pubE2E', private_key: 'PrivE2E-Secret', client_id: 'client-e2e' };
const BASIC = `Basic ${Buffer.from(`${CREDENTIALS.company_id}+${CREDENTIALS.public_key}:${CREDENTIALS.private_key}`).toString('base64')}`;

const TICKETS = [
  { id: 5101, summary: 'Printer on 2nd floor shows offline', company: 'Contoso Dental', item: 'PRN-2F-HP404',
    description: 'The HP LaserJet on the second floor shows offline for everyone since this morning.' },
  { id: 5102, summary: 'Outlook keeps asking for a password', company: 'Fabrikam Legal', item: 'LT-FAB-017',
    description: 'Outlook prompts for credentials every few minutes since the mailbox move.' },
];

interface PostedNote {
  id: number;
  ticket: number;
  text: string;
  internalAnalysisFlag: boolean;
  detailDescriptionFlag: boolean;
  resolutionFlag: boolean;
}

const posted: PostedNote[] = [];

function readBody(req: http.IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    let data = '';
    req.on('data', (chunk) => { data += chunk; });
    req.on('end', () => resolve(data));
  });
}

function fakeConnectWise(): http.Server {
  return http.createServer(async (req, res) => {
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    const raw = await readBody(req);
    if (req.headers.authorization !== BASIC || req.headers.clientid !== CREDENTIALS.client_id) {
      return send(401, { message: 'bad credentials' });
    }
    const url = new URL(req.url ?? '/', 'http://fake');
    const path = url.pathname.replace('/v4_6_release/apis/3.0', '');
    const byId = (raw: string) => TICKETS.find((t) => String(t.id) === raw);
    let m: RegExpMatchArray | null;
    if (path === '/service/tickets') {
      const wanted = /summary contains "([^"]*)"/.exec(url.searchParams.get('conditions') ?? '')?.[1]?.toLowerCase();
      return send(200, TICKETS.filter((t) => !wanted || t.summary.toLowerCase().includes(wanted)).map((t) => ({
        id: t.id, summary: t.summary, company: { name: t.company }, status: { name: 'New' },
      })));
    }
    if ((m = path.match(/^\/service\/tickets\/(\d+)$/)) && byId(m[1])) {
      const t = byId(m[1])!;
      return send(200, { id: t.id, summary: t.summary, company: { name: t.company }, contact: { name: 'Dana Reyes' }, status: { name: 'New' } });
    }
    if (req.method === 'POST' && (m = path.match(/^\/service\/tickets\/(\d+)\/notes$/)) && byId(m[1])) {
      const body = JSON.parse(raw || '{}');
      if (typeof body.text !== 'string' || typeof body.internalAnalysisFlag !== 'boolean') {
        return send(400, { message: 'text and internalAnalysisFlag are required' });
      }
      const note = { id: 9000 + posted.length + 1, ticket: Number(m[1]), ...body } as PostedNote;
      posted.push(note);
      return send(201, note);
    }
    if ((m = path.match(/^\/service\/tickets\/(\d+)\/notes$/)) && byId(m[1])) {
      const t = byId(m[1])!;
      const ours = posted.filter((n) => n.ticket === t.id);
      return send(200, [
        ...ours,
        { id: 2, text: 'Power-cycled it, no change.', internalAnalysisFlag: true, member: { name: 'Sam Tech' } },
        { id: 1, text: t.description, detailDescriptionFlag: true, contact: { name: 'Dana Reyes' } },
      ]);
    }
    if ((m = path.match(/^\/service\/tickets\/(\d+)\/configurations$/)) && byId(m[1])) {
      return send(200, [{ id: 9, deviceIdentifier: byId(m[1])!.item }]);
    }
    if (path === '/system/members') {
      return send(200, [{ id: 31, firstName: 'Sam', lastName: 'Tech', primaryEmail: 'sam@msp.example' }]);
    }
    return send(404, { message: 'not found' });
  });
}

let fake: http.Server;
let fakeUrl = '';

test.beforeAll(async () => {
  fake = fakeConnectWise();
  await new Promise<void>((resolve) => fake.listen(0, '127.0.0.1', resolve));
  fakeUrl = `http://127.0.0.1:${(fake.address() as AddressInfo).port}`;
});

test.afterAll(async () => {
  await new Promise<void>((resolve) => fake.close(() => resolve()));
});

test('connect a PSA, pick a ticket on the intake page and see its card in the session', async ({ page, shots }) => {
  const admin = newPerson('PSA Admin');
  await signUp(page, admin);

  // Settings: the admin connects ConnectWise PSA.
  await page.getByRole('link', { name: 'Settings', exact: true }).click();
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('PSA connections');
  await shots.take(page, 'settings-empty');
  await page.getByRole('link', { name: 'Connect ConnectWise PSA' }).click();
  await page.getByLabel('Name').fill('Acme ConnectWise');
  await page.getByLabel('Address').fill(fakeUrl);
  await page.getByLabel('Company id').fill(CREDENTIALS.company_id);
  await page.getByLabel('Public key').fill(CREDENTIALS.public_key);
  await page.getByLabel('Private key').fill(CREDENTIALS.private_key);
  await page.getByLabel('Client id').fill(CREDENTIALS.client_id);
  await shots.take(page, 'connection-new');
  await page.getByRole('button', { name: 'Connect', exact: true }).click();
  await expect(page.getByRole('status').first()).toContainText('Saved');

  // Credentials are write-only: nothing of them comes back into the page.
  const html = await page.content();
  expect(html).not.toContain(CREDENTIALS.private_key);
  expect(html).not.toContain(CREDENTIALS.public_key);
  await expect(page.getByLabel('Private key')).toHaveValue('');

  await page.getByRole('button', { name: 'Test the connection' }).click();
  await expect(page.locator('[data-psa-test="ok"]')).toContainText('Connected.');
  await shots.take(page, 'connection-tested');

  await page.getByRole('link', { name: 'Map users to members' }).click();
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Members in ConnectWise PSA');
  await shots.take(page, 'members');

  // The intake: search the open tickets and pick one; no description needed.
  await page.getByRole('link', { name: 'Pilot', exact: true }).click();
  await page.getByLabel(/Start from a ticket/).fill('printer');
  await page.getByRole('button', { name: 'Find open tickets' }).click();
  const choice = page.getByLabel(/#5101 Printer on 2nd floor shows offline/);
  await expect(choice).toBeVisible();
  await expect(page.getByText('Outlook keeps asking for a password')).toHaveCount(0);
  await choice.check();
  await shots.take(page, 'intake-ticket-picked');
  await page.getByRole('button', { name: 'Start session', exact: true }).click();
  await expect(page).toHaveURL(/\/pilot\/[0-9a-f-]{36}$/);

  // The session: the ticket card in the sidebar.
  const card = sidebar(page).locator('[data-ticket-card]');
  await expect(card.getByRole('heading')).toHaveText('Ticket #5101');
  await expect(card).toContainText('Printer on 2nd floor shows offline');
  await expect(card).toContainText('Contoso Dental');
  const link = card.getByRole('link', { name: 'Open the ticket in the PSA' });
  await expect(link).toHaveAttribute('href', new RegExp(`^${fakeUrl}/`));
  await expect(page.getByRole('heading', { level: 1 })).toContainText('5101 · Printer on 2nd floor shows offline');
  await shots.take(page, 'session-with-ticket');
});

test('link a ticket to a running session', async ({ page, shots, request }) => {
  const admin = newPerson('PSA Linker');
  await signUp(page, admin);
  const login = await request.post('/api/v1/auth/login', { data: { email: admin.email, password: admin.password } });
  const token = (await login.json()).access_token as string;
  const created = await request.post('/api/v1/integrations/psa', {
    headers: { authorization: `Bearer ${token}` },
    data: { kind: 'connectwise', name: 'Linker CW', base_url: fakeUrl, credentials: CREDENTIALS },
  });
  expect(created.status(), await created.text()).toBe(201);

  await page.goto('/pilot');
  await page.getByLabel(/Describe the problem/).fill('Outlook keeps asking for a password on one laptop.');
  await page.getByRole('button', { name: 'Start session', exact: true }).click();
  await expect(page).toHaveURL(/\/pilot\/[0-9a-f-]{36}$/);
  await sidebar(page).getByLabel('Ticket id').fill('5102');
  await shots.take(page, 'session-link-form');
  await sidebar(page).getByRole('button', { name: 'Link ticket' }).click();
  const card = sidebar(page).locator('[data-ticket-card]');
  await expect(card.getByRole('heading')).toHaveText('Ticket #5102');
  await expect(card).toContainText('Fabrikam Legal');
  await expect(sidebar(page).getByRole('button', { name: 'Link ticket' })).toHaveCount(0);
  await shots.take(page, 'session-ticket-linked');
});

// The write-back: an engineer picks a ticket, answers a step, opens Resolve and finds the note
// for the ticket filled in; what they post is what the ticket gets.
async function connect(request: APIRequestContext, token: string, settings: Record<string, unknown>): Promise<string> {
  const created = await request.post('/api/v1/integrations/psa', {
    headers: { authorization: `Bearer ${token}` },
    data: { kind: 'connectwise', name: 'Write-back CW', base_url: fakeUrl, credentials: CREDENTIALS, settings },
  });
  expect(created.status(), await created.text()).toBe(201);
  return (await created.json()).id as string;
}

async function sessionFromTicket(page: Page, search: string, label: RegExp): Promise<string> {
  await page.goto('/pilot');
  await page.getByLabel(/Start from a ticket/).fill(search);
  await page.getByRole('button', { name: 'Find open tickets' }).click();
  await page.getByLabel(label).check();
  await page.getByRole('button', { name: 'Start session', exact: true }).click();
  await expect(page).toHaveURL(/\/pilot\/[0-9a-f-]{36}$/);
  const id = new URL(page.url()).pathname.split('/').pop()!;
  // Run the session: answer its first step with the first option offered.
  const step = currentStep(page);
  const heading = await step.getByRole('heading').first().textContent();
  await step.locator('button[name=selected_option]').first().click();
  await expect(step.getByRole('heading').first()).not.toHaveText(heading ?? '');
  return id;
}

async function notesOf(ticket: number, count: number): Promise<PostedNote[]> {
  await expect.poll(() => posted.filter((n) => n.ticket === ticket).length, { timeout: 20_000 }).toBe(count);
  return posted.filter((n) => n.ticket === ticket);
}

test('preview the note for the ticket, edit it and post it on resolve', async ({ page, shots, request }) => {
  const engineer = newPerson('PSA Writer');
  await signUp(page, engineer);
  await connect(request, await apiToken(request, engineer), {});
  const id = await sessionFromTicket(page, 'printer', /#5101 Printer on 2nd floor shows offline/);

  await sidebar(page).getByRole('button', { name: 'Resolve', exact: true }).click();
  await page.getByLabel('Resolution summary', { exact: true }).fill('Re-added the printer\'s IP port on the print server.');
  const note = page.locator('#resolve-dialog').getByLabel('Note for the ticket', { exact: true });
  await expect(note).toBeVisible();
  await expect(note).toHaveValue(/Printer on 2nd floor shows offline/);
  await shots.take(page, 'resolve-note-preview');

  const mine = [
    'The print server had lost the printer\'s IP port after the driver update.',
    'Re-added the port and printed a test page from the front desk.',
  ].join('\n');
  await note.fill(mine);
  await page.getByRole('button', { name: 'Confirm resolve', exact: true }).click();
  await expect(page).toHaveURL(/\/documentation/);

  const notes = await notesOf(5101, 1);
  expect(notes[0].text).toBe(`${mine}\n\nFlowPilot ref: psa_note:${id}:resolved`);
  expect(notes[0].internalAnalysisFlag).toBe(true);
  expect(notes[0].detailDescriptionFlag).toBe(false);
  expect(notes[0].resolutionFlag).toBe(true);

  await page.goto(`/pilot/${id}`);
  const card = sidebar(page).locator('[data-ticket-card]');
  await expect(card).toContainText(`Posted to the ticket as note ${notes[0].id}`);
  await shots.take(page, 'session-note-posted');
  // Nothing more arrives later: one note per resolve.
  await page.waitForTimeout(1500);
  expect(posted.filter((n) => n.ticket === 5101)).toHaveLength(1);
});

test('a customer-visible note when the account chose it', async ({ page, request }) => {
  const engineer = newPerson('PSA Customer');
  await signUp(page, engineer);
  await connect(request, await apiToken(request, engineer), { note_visibility: 'customer' });
  const id = await sessionFromTicket(page, 'outlook', /#5102 Outlook keeps asking for a password/);

  await sidebar(page).getByRole('button', { name: 'Resolve', exact: true }).click();
  await page.getByLabel('Resolution summary', { exact: true }).fill('Re-created the Outlook profile.');
  const note = page.locator('#resolve-dialog').getByLabel('Note for the ticket', { exact: true });
  const mine = 'We re-created your Outlook profile; the password prompts have stopped.';
  await note.fill(mine);
  await page.getByRole('button', { name: 'Confirm resolve', exact: true }).click();
  await expect(page).toHaveURL(/\/documentation/);

  const notes = await notesOf(5102, 1);
  expect(notes[0].text).toBe(`${mine}\n\nFlowPilot ref: psa_note:${id}:resolved`);
  expect(notes[0].internalAnalysisFlag).toBe(false);
  expect(notes[0].detailDescriptionFlag).toBe(true);
});
