import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { PROJECT_ROOT } from '../../src/config';
import { invoiceWorkflowId, providerEventSignal } from '../../src/workflows/definitions';
import { launchChromium, type LaunchedBrowser } from '../support/browser';
import { fakeEvent, fakeRegistry } from '../support/fake-provider';
import { invoiceRequest } from '../support/requests';
import { startTestEnv, type TestEnv } from '../support/temporal-env';
import { waitForStatus } from '../support/wait';

describe('Temporal UI shows the invoices', () => {
  const { registry } = fakeRegistry();
  let env: TestEnv;
  let browser: LaunchedBrowser | undefined;
  beforeAll(async () => {
    env = await startTestEnv({ providers: registry });
  });
  afterAll(async () => {
    await browser?.close();
    await env?.stop();
  });

  it('lists a completed invoice under an InvoiceStatus query and shows the attribute on its page', async () => {
    const uiUrl = process.env.TEST_TEMPORAL_UI_URL;
    if (!uiUrl) throw new Error('TEST_TEMPORAL_UI_URL is unset: the dev server of this run has no UI.');
    // First, so that a machine without a browser fails at once: Debian's chromium, else the packaged one.
    browser = await launchChromium({ width: 1600, height: 1000 });
    const { context } = browser;

    const completed = invoiceRequest();
    const waiting = invoiceRequest();
    await env.invoices.startInvoice(completed);
    await env.invoices.startInvoice(waiting);
    await waitForStatus(env.invoices, completed.invoiceId, 'AWAITING_SETTLEMENT');
    await env.invoices
      .handle(completed.invoiceId)
      .signal(providerEventSignal, fakeEvent(completed, 'ui-settle', 'settled'));
    expect((await env.invoices.waitForResult(completed.invoiceId)).status).toBe('COMPLETED');
    await waitForStatus(env.invoices, waiting.invoiceId, 'AWAITING_SETTLEMENT');

    const page = context.pages()[0] ?? (await context.newPage());
    const base = `${uiUrl}/namespaces/${env.namespace}/workflows`;
    const completedId = invoiceWorkflowId(completed.invoiceId);

    // Visibility catches up a moment after the workflow closes: reload until the list shows it.
    const query = `InvoiceStatus="COMPLETED" AND WorkflowId="${completedId}"`;
    let found = false;
    for (let attempt = 0; attempt < 10 && !found; attempt++) {
      await page.goto(`${base}?query=${encodeURIComponent(query)}`, { waitUntil: 'networkidle' });
      found = await page
        .getByText(completedId)
        .first()
        .waitFor({ timeout: 5_000 })
        .then(
          () => true,
          () => false,
        );
    }
    expect(found).toBe(true);
    expect(await page.getByText(invoiceWorkflowId(waiting.invoiceId)).count()).toBe(0);

    // The unfiltered list shows both invoices by workflow id.
    await page.goto(
      `${base}?query=${encodeURIComponent('InvoiceStatus="AWAITING_SETTLEMENT" OR InvoiceStatus="COMPLETED"')}`,
      {
        waitUntil: 'networkidle',
      },
    );
    await page.getByText(invoiceWorkflowId(waiting.invoiceId)).first().waitFor({ timeout: 15_000 });

    await page.goto(`${base}/${encodeURIComponent(completedId)}`, { waitUntil: 'networkidle' });
    await page.getByText(completedId).first().waitFor({ timeout: 15_000 });
    await page.getByText('Search Attributes', { exact: true }).first().click();
    await page.getByText('InvoiceStatus').first().waitFor({ timeout: 15_000 });
    const artifacts = path.join(PROJECT_ROOT, 'test-artifacts');
    await mkdir(artifacts, { recursive: true });
    await page.screenshot({ path: path.join(artifacts, 'temporal-ui.png'), fullPage: true });
    expect(await page.getByText('InvoiceStatus').count()).toBeGreaterThan(0);
    expect(await page.getByText('COMPLETED', { exact: false }).count()).toBeGreaterThan(0);
  });
});
