// The Analytics page (issue 18, point 6): charts drawn on the server as SVG images with
// titles, a table under each, CSV downloads, the filter form, axe's WCAG 2 A/AA rules in the
// light and the dark theme, and screenshots of both for the docs.
import AxeBuilder from '@axe-core/playwright';
import type { APIRequestContext, Page } from '@playwright/test';
import { OUTLOOK_PROBLEM, apiToken, createColleague, expect, newPerson, signUp, test } from './fixtures';

const WCAG_TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa'];

/**
 * axe-core's WCAG 2 A/AA findings, violations and "needs review" alike, as quality.spec.ts
 * counts them, with one exception: axe cannot measure the contrast of text inside an SVG image
 * (it reports `imgNode` or `shortTextContent`). Chart text is `currentColor`, the page's own
 * text colour on the page's own surface, which the test checks itself below.
 */
async function axeFindings(page: Page, label: string): Promise<string[]> {
  const results = await new AxeBuilder({ page }).withTags(WCAG_TAGS).analyze();
  const chartText = (n: (typeof results.incomplete)[number]['nodes'][number]) =>
    n.html.startsWith('<text') &&
    n.any.some((c) => c.id === 'color-contrast' && ['imgNode', 'shortTextContent'].includes((c.data as { messageKey?: string } | null)?.messageKey ?? ''));
  const review = results.incomplete
    .map((v) => ({ ...v, nodes: v.nodes.filter((n) => !chartText(n)) }))
    .filter((v) => v.nodes.length > 0);
  return [...results.violations, ...review].map(
    (v) => `${label}: ${v.id} (${v.impact ?? 'n/a'}): ${v.help}\n    ${v.nodes.map((n) => `${n.target.join(' ')} ${n.failureSummary ?? ''}`).join('\n    ')}`,
  );
}

/** Whether every chart's text has the colour of the page's text (so its contrast is the page's). */
async function chartTextIsPageText(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const text = getComputedStyle(document.body).color;
    const off: string[] = [];
    document.querySelectorAll<SVGTextElement>('svg.chart text').forEach((t) => {
      const fill = getComputedStyle(t).fill;
      if (fill !== text) off.push(`${t.textContent}: ${fill} (page text ${text})`);
    });
    return off;
  });
}

/** A session through the JSON API, walked down the Outlook flow and closed as `end` says. */
async function session(request: APIRequestContext, token: string, end: 'resolve' | 'escalate' | 'abandon' | 'open') {
  const auth = { Authorization: `Bearer ${token}` };
  const started = await request.post('/api/v1/ai-sessions', {
    headers: auth,
    data: { intake_type: 'free_text', intake_content: { text: OUTLOOK_PROBLEM } },
  });
  expect(started.status(), await started.text()).toBe(201);
  const s = await started.json();
  const id = s.session_id as string;
  const answer = async (step: { step_id: string }, value: string) => {
    const res = await request.post(`/api/v1/ai-sessions/${id}/respond`, { headers: auth, data: { step_id: step.step_id, selected_option: value } });
    expect(res.status(), await res.text()).toBe(200);
    return (await res.json()).next_step;
  };
  const clear = await answer(s.first_step, 'one');
  if (end === 'open') return;
  if (end === 'resolve') {
    await answer(clear, 'done_worked');
    const res = await request.post(`/api/v1/ai-sessions/${id}/resolve`, { headers: auth, data: { used_suggested_resolution: true } });
    expect(res.status(), await res.text()).toBe(200);
  } else if (end === 'escalate') {
    await answer(clear, 'done_no_change');
    const res = await request.post(`/api/v1/ai-sessions/${id}/escalate`, { headers: auth, data: { escalation_reason: 'Needs tenant admin rights' } });
    expect(res.status(), await res.text()).toBe(200);
  } else {
    const res = await request.post(`/api/v1/ai-sessions/${id}/abandon`, { headers: auth });
    expect(res.status(), await res.text()).toBe(200);
  }
}

test('the Analytics page draws its charts and tables in both themes and downloads each table', async ({ page, request, shots }) => {
  test.setTimeout(90_000);
  const admin = newPerson('Analyst');
  await signUp(page, admin);
  const token = await apiToken(request, admin);
  for (const end of ['resolve', 'resolve', 'escalate', 'abandon', 'open'] as const) await session(request, token, end);
  // One no flow covers, resolved by a colleague in their own words (five starts a minute each).
  const colleague = newPerson('Colleague');
  await createColleague(request, token, colleague);
  const auth = { Authorization: `Bearer ${await apiToken(request, colleague)}` };
  const unmatched = await request.post('/api/v1/ai-sessions', {
    headers: auth,
    data: { intake_type: 'free_text', intake_content: { text: 'The coffee machine on the third floor beeps and shows E42' } },
  });
  expect(unmatched.status()).toBe(201);
  const { session_id, matched_flow_id } = await unmatched.json();
  expect(matched_flow_id).toBeNull();
  const resolved = await request.post(`/api/v1/ai-sessions/${session_id}/resolve`, { headers: auth, data: { resolution_summary: 'Descaled the machine' } });
  expect(resolved.status(), await resolved.text()).toBe(200);

  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Analytics' }).click();
  await expect(page).toHaveURL(/\/analytics$/);
  await expect(page.getByRole('heading', { level: 1, name: 'Analytics' })).toBeVisible();
  const totals = page.getByLabel('Totals');
  await expect(totals).toContainText('Sessions started');
  await expect(totals.locator('div').filter({ hasText: 'Sessions started' }).locator('dd')).toHaveText('6');
  await expect(totals.locator('div').filter({ hasText: /^Resolved/ }).locator('dd')).toHaveText('3 (50%)');

  for (const name of [
    'Outcomes by problem domain',
    'Time to resolution (p50 and p90) by problem domain',
    'Outcomes by flow',
    'Reliability: share of suggestions that were the fix, by confidence',
  ]) {
    await expect(page.getByRole('img', { name })).toBeVisible();
  }
  const flows = page.getByRole('region', { name: 'Outcomes by flow', exact: true }).getByRole('table');
  await expect(flows.getByRole('row', { name: /Outlook keeps asking for a password/ })).toContainText('40%');
  await expect(page.getByRole('region', { name: 'Flow health by node', exact: true }).getByRole('row', { name: /Is it one user or several/ })).toBeVisible();

  await page.emulateMedia({ colorScheme: 'light' });
  await shots.take(page, 'analytics-light');
  const light = await axeFindings(page, 'analytics (light)');
  expect(await chartTextIsPageText(page)).toEqual([]);
  await page.emulateMedia({ colorScheme: 'dark' });
  await shots.take(page, 'analytics-dark');
  const dark = await axeFindings(page, 'analytics (dark)');
  expect(await chartTextIsPageText(page)).toEqual([]);
  expect([...light, ...dark], [...light, ...dark].join('\n')).toEqual([]);
  // The bars follow the theme: a resolved bar is not the same colour in the dark.
  const fill = () => page.locator('svg .chart-resolved').first().evaluate((el) => getComputedStyle(el).fill);
  const darkFill = await fill();
  await page.emulateMedia({ colorScheme: 'light' });
  expect(await fill()).not.toBe(darkFill);

  // Each table's download: a CSV attachment with the page's figures.
  const link = page.getByRole('region', { name: 'Outcomes by flow', exact: true }).getByRole('link', { name: 'Download this table (CSV)' });
  const csv = await page.request.get((await link.getAttribute('href'))!);
  expect(csv.status()).toBe(200);
  expect(csv.headers()['content-disposition']).toMatch(/^attachment; filename="flowpilot-flows-/);
  const lines = (await csv.text()).split('\r\n');
  expect(lines[0]).toMatch(/^flow_id,flow_name,started,resolved,escalated,abandoned,open,/);
  expect(lines[1]).toContain(',Outlook keeps asking for a password,5,2,1,1,1,0.4,0.2,');

  // The filters are a plain GET form.
  await page.getByRole('combobox', { name: 'Problem domain' }).selectOption('networking');
  await page.getByRole('button', { name: 'Show', exact: true }).click();
  await expect(page).toHaveURL(/\/analytics\?from=.*&domain=networking$/);
  await expect(totals.locator('div').filter({ hasText: 'Sessions started' }).locator('dd')).toHaveText('0');
  await shots.take(page, 'analytics-filtered');
});
