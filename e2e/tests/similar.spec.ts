// Team memory on the pages (memory.md): the intake's "Check for similar sessions" shows a
// colleague's resolved session with its fix before starting (no JavaScript needed: a form
// button), the session page's sidebar shows it as "Seen before"; the knowledge gaps page
// groups unmatched sessions and drafts a flow from them. axe's WCAG 2 A/AA rules in the
// light and the dark theme.
import AxeBuilder from '@axe-core/playwright';
import type { APIRequestContext, Page } from '@playwright/test';
import { OUTLOOK_PROBLEM, SESSION_URL, UUID, apiToken, createColleague, expect, newPage, newPerson, sidebar, signIn, signUp, test } from './fixtures';

const WCAG_TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa'];
const FIX = 'Cleared the cached Outlook credentials in Credential Manager and signed in again';

async function axeFindings(page: Page, label: string): Promise<string[]> {
  const results = await new AxeBuilder({ page }).withTags(WCAG_TAGS).analyze();
  return [...results.violations, ...results.incomplete].map(
    (v) => `${label}: ${v.id} (${v.impact ?? 'n/a'}): ${v.help}\n    ${v.nodes.map((n) => n.target.join(' ')).join('\n    ')}`,
  );
}

async function bothThemes(page: Page, label: string, shots: { take(page: Page, name: string): Promise<void> }): Promise<string[]> {
  const found: string[] = [];
  for (const scheme of ['light', 'dark'] as const) {
    await page.emulateMedia({ colorScheme: scheme });
    found.push(...(await axeFindings(page, `${label} (${scheme})`)));
    await shots.take(page, `${label}-${scheme}`);
  }
  await page.emulateMedia({ colorScheme: 'light' });
  return found;
}

/** A session of `token`'s user started through the API, closed by `close` when given. */
async function apiSession(request: APIRequestContext, token: string, text: string, close?: object): Promise<string> {
  const headers = { Authorization: `Bearer ${token}` };
  const started = await request.post('/api/v1/ai-sessions', {
    headers,
    data: { intake_type: 'free_text', intake_content: { text } },
  });
  expect(started.status(), await started.text()).toBe(201);
  const id = (await started.json()).session_id as string;
  if (close) {
    const res = await request.post(`/api/v1/ai-sessions/${id}/resolve`, { headers, data: close });
    expect(res.status(), await res.text()).toBe(200);
  }
  return id;
}

test('the intake and the sidebar show a similar session with its fix', async ({ page, browser, baseURL, request, shots }) => {
  const findings: string[] = [];
  const admin = newPerson('Memory');
  await signUp(page, admin);
  const adminToken = await apiToken(request, admin);
  const bob = newPerson('Bob', admin.company);
  await createColleague(request, adminToken, bob);
  const bobToken = await apiToken(request, bob);
  const earlier = await apiSession(request, bobToken, 'Outlook keeps asking for the password on a laptop', { resolution_summary: FIX });
  await apiSession(request, bobToken, 'The office printer shows offline for everyone', { resolution_summary: 'Restarted the spooler' });

  // Ada, another engineer, types the problem and checks before starting.
  const ada = newPerson('Ada', admin.company);
  await createColleague(request, adminToken, ada);
  const { context: adaContext, page: adaPage } = await newPage(browser, baseURL);
  await signIn(adaPage, ada);
  await adaPage.getByLabel('Describe the problem').fill(OUTLOOK_PROBLEM);
  await adaPage.getByRole('button', { name: 'Check for similar sessions', exact: true }).click();
  await expect(adaPage).toHaveURL(/\/pilot\/similar$/);
  const panel = adaPage.getByRole('region', { name: 'Similar sessions' });
  await expect(panel).toContainText('Seen before: once this month, fixed once by');
  await expect(panel.locator('.similar-item')).toHaveCount(1);
  await expect(panel).toContainText(FIX);
  await expect(panel).toContainText(bob.fullName);
  await expect(panel).toContainText('Alike in:');
  await expect(panel).not.toContainText('printer');
  await expect(adaPage.getByLabel('Describe the problem')).toHaveValue(OUTLOOK_PROBLEM);
  findings.push(...(await bothThemes(adaPage, 'intake-similar', shots)));

  // Started from there, the session's sidebar keeps it in view.
  await adaPage.getByRole('button', { name: 'Start session', exact: true }).click();
  await expect(adaPage).toHaveURL(SESSION_URL);
  const seen = sidebar(adaPage).getByRole('region', { name: 'Seen before' });
  await expect(seen).toContainText('Seen before: once this month');
  await expect(seen).toContainText(FIX);
  await expect(seen.getByRole('link', { name: /Outlook/ }).first()).toHaveAttribute('href', new RegExp(`/pilot/${earlier}$`));
  findings.push(...(await bothThemes(adaPage, 'session-sidebar', shots)));
  await adaContext.close();

  expect(findings, findings.join('\n')).toEqual([]);
});

test('knowledge gaps group unmatched sessions and draft a flow from them', async ({ page, request, shots }) => {
  const findings: string[] = [];
  const admin = newPerson('Gaps');
  await signUp(page, admin);
  const token = await apiToken(request, admin);
  for (const text of [
    'Badge reader at the warehouse door rejects every badge',
    'The warehouse badge reader beeps red for all staff badges',
  ]) {
    await apiSession(request, token, text, { resolution_summary: 'Re-enrolled the badges in the access control console' });
  }
  await apiSession(request, token, 'Boardroom projector flickers purple');

  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Gaps', exact: true }).click();
  await expect(page).toHaveURL(/\/analytics\/gaps$/);
  await expect(page.getByRole('status').first()).toContainText('3 sessions matched no flow, in 2 topics');
  const first = page.locator('.gap').first();
  await expect(first.getByRole('heading')).toContainText('badge');
  await expect(first).toContainText('2 sessions · 2 resolved · 0 escalated');
  findings.push(...(await bothThemes(page, 'gaps', shots)));

  await first.getByRole('link', { name: /Draft a flow from these/ }).click();
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Draft a flow');
  await expect(page.getByLabel('Flow (YAML, as the import takes it)')).toHaveValue(/status: draft/);
  findings.push(...(await bothThemes(page, 'gap-draft', shots)));
  await page.getByRole('button', { name: 'Save as a draft flow', exact: true }).click();
  await expect(page).toHaveURL(new RegExp(`/flows/${UUID}$`));
  await expect(page.getByRole('heading', { level: 1 })).toContainText(/badge/i);
  await shots.take(page, 'saved-flow');

  expect(findings, findings.join('\n')).toEqual([]);
});
