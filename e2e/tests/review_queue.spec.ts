// The review queue (issue 18, point 3): three sessions leave a flow at the same question and
// are resolved the same way; an admin opens the queue, reads the proposal's change as the
// decision tree with what it adds marked "Added", checks its evidence and approves it, which
// publishes a new version of the flow. Axe's WCAG 2 A/AA rules in the light and the dark
// theme; screenshots of both for the docs.
import AxeBuilder from '@axe-core/playwright';
import type { APIRequestContext, Page } from '@playwright/test';
import { apiToken, expect, newPerson, signUp, test } from './fixtures';

const WCAG_TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa'];

/**
 * axe's WCAG 2 A/AA violations and "needs review" results, as quality.spec.ts reads them:
 * the one exception is the contrast of text made only of symbols (the outline's aria-hidden
 * "→"), which axe cannot measure.
 */
async function axeFindings(page: Page, label: string): Promise<string[]> {
  const results = await new AxeBuilder({ page }).withTags(WCAG_TAGS).analyze();
  const symbolsOnly = (n: (typeof results.incomplete)[number]['nodes'][number]) =>
    n.any.some((check) => check.id === 'color-contrast' && (check.data as { messageKey?: string } | null)?.messageKey === 'nonBmp');
  const review = results.incomplete
    .map((v) => ({ ...v, nodes: v.nodes.filter((n) => !symbolsOnly(n)) }))
    .filter((v) => v.nodes.length > 0);
  return [...results.violations, ...review].map(
    (v) => `${label}: ${v.id} (${v.impact ?? 'n/a'}): ${v.help}\n    ${v.nodes.map((n) => n.target.join(' ')).join('\n    ')}`,
  );
}

/** Both themes: a screenshot of each and axe's findings on each. */
async function bothThemes(page: Page, shots: { take(page: Page, name: string): Promise<void> }, name: string): Promise<string[]> {
  await page.emulateMedia({ colorScheme: 'light' });
  await shots.take(page, `${name}-light`);
  const light = await axeFindings(page, `${name} (light)`);
  await page.emulateMedia({ colorScheme: 'dark' });
  await shots.take(page, `${name}-dark`);
  const dark = await axeFindings(page, `${name} (dark)`);
  await page.emulateMedia({ colorScheme: 'light' });
  return [...light, ...dark];
}

const INTAKE = 'Our Zebra thermal label printer feeds the labels but they come out blank';
const FIX = 'Raise the darkness to 25 in the ZebraDesigner printer preferences';

const LABEL_FLOW = {
  title: 'Zebra label printer prints blank labels',
  description: 'The Zebra thermal label printer feeds labels but prints nothing on them.',
  domain: 'label_printing',
  tags: ['zebra', 'thermal', 'labels'],
  start: 'q1',
  nodes: {
    q1: {
      type: 'question',
      text: "Does the printer's own test label print?",
      options: [
        { label: 'Yes', value: 'yes', next: 'a1' },
        { label: 'No', value: 'no', next: 'e1' },
      ],
    },
    a1: {
      type: 'action',
      text: 'Reinstall the ZDesigner driver and set the media type to thermal transfer.',
      expected_outcome: 'Labels print',
      next: 's1',
      on_failure: 'e1',
    },
    s1: { type: 'solution', text: 'Wrong media type in the driver.' },
    e1: { type: 'escalate', text: 'Printhead fault: send to the vendor.' },
  },
};

/** A session that answers the flow's first question in words no option means, then is resolved with its own fix. */
async function leaveAndResolve(request: APIRequestContext, token: string, words: string, fix: string): Promise<void> {
  const auth = { Authorization: `Bearer ${token}` };
  const started = await request.post('/api/v1/ai-sessions', {
    headers: auth,
    data: { intake_type: 'free_text', intake_content: { text: INTAKE } },
  });
  expect(started.status(), await started.text()).toBe(201);
  const s = await started.json();
  const res = await request.post(`/api/v1/ai-sessions/${s.session_id}/respond`, {
    headers: auth,
    data: { step_id: s.first_step.step_id, free_text_input: words },
  });
  expect(res.status(), await res.text()).toBe(200);
  const closed = await request.post(`/api/v1/ai-sessions/${s.session_id}/resolve`, { headers: auth, data: { resolution_summary: fix } });
  expect(closed.status(), await closed.text()).toBe(200);
}

test('an admin reads a proposed branch on its decision tree and approves it into a new version', async ({ page, request, shots }) => {
  test.setTimeout(90_000);
  const admin = newPerson('Reviewer');
  await signUp(page, admin);
  const token = await apiToken(request, admin);
  const created = await request.post('/api/v1/flows', { headers: { Authorization: `Bearer ${token}` }, data: LABEL_FLOW });
  expect(created.status(), await created.text()).toBe(201);
  const flow = await created.json();
  await leaveAndResolve(request, token, 'only the barcodes from the WMS come out empty', FIX);
  await leaveAndResolve(request, token, 'just the WMS barcodes, text is fine', 'raise darkness to 25 in ZebraDesigner printer preferences.');
  await leaveAndResolve(request, token, 'WMS barcodes only', 'In the ZebraDesigner printer preferences, raise the darkness to 25');
  // The analysis runs in the background: wait until the three are one proposal's evidence.
  await expect
    .poll(async () => {
      const res = await request.get('/api/v1/flow-proposals?status=open', { headers: { Authorization: `Bearer ${token}` } });
      const open = await res.json();
      return open.length === 1 ? open[0].evidence_count : -1;
    }, { timeout: 20_000 })
    .toBe(3);

  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Review' }).click();
  await expect(page).toHaveURL(/\/review$/);
  await expect(page.getByRole('heading', { level: 1, name: 'Review queue' })).toBeVisible();
  const line = page.locator('.proposal-line');
  await expect(line).toHaveCount(1);
  await expect(line).toContainText('3 sessions as evidence');
  await expect(line).toContainText("Does the printer's own test label print?");
  const queueFindings = await bothThemes(page, shots, 'review-queue');

  await line.getByRole('link', { name: 'Add a branch to “Zebra label printer prints blank labels”' }).click();
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Add a branch to “Zebra label printer prints blank labels”');
  const change = page.getByRole('region', { name: 'The change' });
  await expect(change).toContainText('1 step added, 1 answer added');
  // The new answer and the fix it leads to, each marked in words, on the existing question.
  const addedAnswer = change.locator('.branch.diff-added');
  await expect(addedAnswer).toHaveCount(1);
  await expect(addedAnswer.locator('.branch-label')).toContainText('Added');
  await expect(addedAnswer.locator('.branch-label')).toContainText('only the barcodes from the WMS come out empty');
  const addedFix = change.locator('.node.diff-added');
  await expect(addedFix).toHaveCount(1);
  await expect(addedFix).toContainText(FIX);
  await expect(change.locator('.node.diff-added .diff-badge')).toHaveText('Added');
  // The rest of the tree is the flow as it is, unmarked.
  await expect(change.getByText('Reinstall the ZDesigner driver', { exact: false })).toBeVisible();
  await expect(change.locator('.flow-outline .diff-changed')).toHaveCount(0);
  await expect(page.getByRole('heading', { name: 'Evidence: 3 sessions' })).toBeVisible();
  await expect(page.getByRole('region', { name: 'Evidence: 3 sessions' }).getByRole('link')).toHaveCount(3);
  const proposalFindings = await bothThemes(page, shots, 'proposal');

  // An edit that breaks the flow is refused with the validator's words, and kept to fix.
  await page.getByText('Edit and approve').click();
  const doc = page.getByLabel(/The flow document/);
  const text = await doc.inputValue();
  await doc.fill(text.replace('"start": "q1"', '"start": "nowhere"'));
  await page.getByRole('button', { name: 'Approve the edited flow' }).click();
  await expect(page.getByRole('alert')).toContainText('nowhere');
  await expect(page.getByLabel(/The flow document/)).toHaveValue(/"start": "nowhere"/);
  await shots.take(page, 'proposal-edit-refused');

  await page.getByRole('button', { name: 'Approve and publish' }).click();
  await expect(page.getByRole('status').filter({ hasText: 'Approved and published' })).toContainText('version 2 of the flow');
  await expect(page.getByRole('button', { name: 'Approve and publish' })).toHaveCount(0);
  await shots.take(page, 'proposal-approved');
  await page.getByRole('link', { name: 'version 2 of the flow' }).click();
  await expect(page).toHaveURL(new RegExp(`/flows/${flow.id}(/versions/2)?$`));
  await expect(page.getByText('only the barcodes from the WMS come out empty')).toBeVisible();

  await page.goto('/review');
  await expect(page.locator('.proposal-line')).toHaveCount(0);
  await page.getByRole('link', { name: 'Approved' }).click();
  await expect(page.locator('.proposal-line')).toHaveCount(1);

  expect([...queueFindings, ...proposalFindings]).toEqual([]);
});
