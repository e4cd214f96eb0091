// A flow's history on its page (memory.md "Versions"): the versions with who, when and why,
// a past version read as it was, and the steps an AI wrote marked until an admin reviews
// them; axe's WCAG 2 A/AA rules in the light and the dark theme (screenshots of both).
import AxeBuilder from '@axe-core/playwright';
import type { Page } from '@playwright/test';
import { apiToken, expect, newPerson, signUp, test } from './fixtures';

const WCAG_TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa'];

/** Violations and "needs review" results, but for the contrast of symbol-only text (the
 * outline's aria-hidden arrows), which axe cannot measure (as in quality.spec.ts). */
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

function printerFlow(action: string) {
  return {
    title: 'Print spooler keeps jobs stuck in the queue',
    description: 'Jobs sit in the Windows print queue and never reach the printer.',
    domain: 'printing',
    tags: ['spooler', 'windows'],
    start: 'q1',
    nodes: {
      q1: {
        type: 'question',
        text: 'Does a test page from the printer itself print?',
        options: [
          { label: 'Yes', value: 'yes', next: 'a1' },
          { label: 'No', value: 'no', next: 'e1' },
        ],
      },
      a1: { type: 'action', text: action, expected_outcome: 'The queue empties', next: 's1', on_failure: 'e1' },
      s1: { type: 'solution', text: 'A stuck job blocked the spooler.' },
      e1: { type: 'escalate', text: 'Hardware fault: hand over to the print vendor.' },
    },
  };
}

test('a flow page lists its versions, reads a past one and marks unreviewed steps', async ({ page, shots }) => {
  const admin = newPerson('Versions');
  await signUp(page, admin);
  const token = await apiToken(page.request, admin);
  const auth = { Authorization: `Bearer ${token}` };
  const created = await page.request.post('/api/v1/flows', { headers: auth, data: printerFlow('Restart the Print Spooler service.') });
  expect(created.status(), await created.text()).toBe(201);
  const id = (await created.json()).id as string;
  const edit = {
    ...printerFlow('Stop the spooler, empty C:\\Windows\\System32\\spool\\PRINTERS, then start it again.'),
    why: 'A restart alone leaves the stuck job in the spool folder',
  };
  (edit.nodes.a1 as Record<string, unknown>).unreviewed = true;
  const updated = await page.request.put(`/api/v1/flows/${id}`, { headers: { ...auth, 'If-Match': '"1"' }, data: edit });
  expect(updated.status(), await updated.text()).toBe(200);

  const findings: string[] = [];
  await page.goto(`/flows/${id}`);
  const history = page.getByRole('region', { name: 'History' });
  await expect(history.getByRole('listitem')).toHaveCount(2);
  await expect(history).toContainText('A restart alone leaves the stuck job in the spool folder');
  await expect(history).toContainText(admin.fullName);
  await expect(history.locator('[aria-current="page"]')).toContainText('Version 2');
  const action = page.locator('#node-a1 > .node-head');
  await expect(action).toContainText('Unreviewed');
  await expect(page.locator('#node-s1 > .node-head')).not.toContainText('Unreviewed');
  for (const scheme of ['light', 'dark'] as const) {
    await page.emulateMedia({ colorScheme: scheme });
    findings.push(...(await axeFindings(page, `flow (${scheme})`)));
    await shots.take(page, `flow-history-${scheme}`);
  }

  await page.emulateMedia({ colorScheme: 'light' });
  await history.getByRole('link', { name: 'Version 1', exact: true }).click();
  await expect(page).toHaveURL(new RegExp(`/flows/${id}/versions/1$`));
  await expect(page.getByRole('status')).toContainText('You are reading version 1 of this flow');
  await expect(page.locator('main')).toContainText('Restart the Print Spooler service.');
  await expect(page.locator('main')).not.toContainText('Unreviewed');
  for (const scheme of ['light', 'dark'] as const) {
    await page.emulateMedia({ colorScheme: scheme });
    findings.push(...(await axeFindings(page, `past version (${scheme})`)));
    await shots.take(page, `flow-version-1-${scheme}`);
  }
  await page.getByRole('link', { name: 'read the current version' }).click();
  await expect(page).toHaveURL(new RegExp(`/flows/${id}$`));
  expect(findings, `axe found WCAG 2 A/AA problems:\n${findings.join('\n')}`).toEqual([]);
});
