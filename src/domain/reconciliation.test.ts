import {
  classify,
  countByClass,
  reportCsv,
  type BookedInvoice,
  type ProviderRecord,
  type ProviderRecords,
} from './reconciliation';

const WINDOW = { since: '2026-11-01T00:00:00.000Z', until: '2026-11-02T00:00:00.000Z' };
const IN_WINDOW = '2026-11-01T12:00:00.000Z';

function invoice(reference: string, overrides: Partial<BookedInvoice> = {}): BookedInvoice {
  return {
    reference,
    workflowId: `invoice-${reference}`,
    status: 'COMPLETED',
    amount: 12500,
    currency: 'USD',
    providerReferences: [`alfredInvoiceId:alf-${reference}`],
    running: false,
    ...overrides,
  };
}

function record(reference: string, overrides: Partial<ProviderRecord> = {}): ProviderRecord {
  return {
    providerRef: `alf-${reference}`,
    ourReference: reference,
    amount: 12500,
    currency: 'USD',
    status: 'settled',
    createdAt: IN_WINDOW,
    ...overrides,
  };
}

function report(records: ProviderRecord[], coverage: ProviderRecords['coverage'] = 'list'): ProviderRecords {
  return { coverage, refKey: 'alfredInvoiceId', records };
}

describe('classify', () => {
  it('finds nothing when both sides agree', () => {
    const result = classify([invoice('t_a'), invoice('t_b')], report([record('t_a'), record('t_b')]), WINDOW);
    expect(result).toEqual({ differences: [], matched: 2 });
  });

  it('names each class of difference once, and nothing else', () => {
    const ours = [
      invoice('t_settled', { status: 'EXPIRED' }),
      invoice('t_reversed'),
      invoice('t_amount'),
      invoice('t_forgotten'),
      invoice('t_fine'),
    ];
    const theirs = [
      record('t_settled'),
      record('t_reversed', { status: 'reversed' }),
      record('t_amount', { amount: 13000 }),
      record('t_fine'),
      record('t_orphan', { ourReference: undefined, providerRef: 'alf-orphan' }),
    ];
    const { differences, matched } = classify(ours, report(theirs), WINDOW);
    expect(matched).toBe(4);
    expect(differences.map((d) => [d.class, d.reference ?? d.providerRef])).toEqual([
      ['settled_not_completed', 't_settled'],
      ['completed_not_settled', 't_reversed'],
      ['amount_mismatch', 't_amount'],
      ['orphan', 'alf-orphan'],
      ['missing_at_provider', 't_forgotten'],
    ]);
    expect(countByClass(differences)).toEqual({
      settled_not_completed: 1,
      completed_not_settled: 1,
      amount_mismatch: 1,
      orphan: 1,
      missing_at_provider: 1,
    });
    const amount = differences.find((d) => d.class === 'amount_mismatch');
    expect(amount?.ours).toEqual({ amount: 12500, currency: 'USD' });
    expect(amount?.theirs).toEqual({ amount: 13000, currency: 'USD' });
  });

  it('matches a record by the provider id the invoice holds when the provider does not show our reference', () => {
    const { differences, matched } = classify(
      [invoice('t_a')],
      report([record('t_a', { ourReference: undefined })]),
      WINDOW,
    );
    expect({ differences, matched }).toEqual({ differences: [], matched: 1 });
  });

  it('counts another currency as a money difference', () => {
    const { differences } = classify([invoice('t_a')], report([record('t_a', { currency: 'EUR' })]), WINDOW);
    expect(differences.map((d) => d.class)).toEqual(['amount_mismatch']);
  });

  it('leaves an invoice that never reached the provider alone, and one still waiting that the provider holds open', () => {
    const ours = [
      invoice('t_failed_early', { status: 'FAILED', providerReferences: ['alfredQuoteId:q1'] }),
      invoice('t_waiting', { status: 'AWAITING_SETTLEMENT', running: true }),
    ];
    const { differences } = classify(ours, report([record('t_waiting', { status: 'pending' })]), WINDOW);
    expect(differences).toEqual([]);
  });

  it('reports a completed invoice without provider references as missing', () => {
    const { differences } = classify([invoice('t_a', { providerReferences: [] })], report([]), WINDOW);
    expect(differences.map((d) => d.class)).toEqual(['missing_at_provider']);
  });

  it('finds no orphan in a report looked up by reference, nor among records created after the window', () => {
    const orphan = record('t_x', { ourReference: undefined, providerRef: 'alf-x' });
    expect(classify([], report([orphan], 'per-reference'), WINDOW).differences).toEqual([]);
    const later = { ...orphan, createdAt: '2026-11-03T00:00:00.000Z' };
    expect(classify([], report([later]), WINDOW).differences).toEqual([]);
    expect(classify([], report([orphan]), WINDOW).differences.map((d) => d.class)).toEqual(['orphan']);
  });

  it('lets the first of two records for one invoice decide', () => {
    const { differences, matched } = classify(
      [invoice('t_a')],
      report([record('t_a'), record('t_a', { providerRef: 'alf-dup', status: 'failed' })]),
      WINDOW,
    );
    expect({ differences, matched }).toEqual({ differences: [], matched: 1 });
  });
});

describe('reportCsv', () => {
  it('writes one row per difference, quoting what needs it and defusing formulas', () => {
    const csv = reportCsv([
      {
        class: 'amount_mismatch',
        reference: 't_a,1',
        providerRef: '=HYPERLINK("x")',
        invoiceStatus: 'COMPLETED',
        providerStatus: 'settled',
        ours: { amount: 12500, currency: 'USD' },
        theirs: { amount: 13000, currency: 'USD' },
        nudged: true,
      },
    ]);
    expect(csv.split('\r\n')).toEqual([
      'class,reference,providerRef,invoiceStatus,providerStatus,ourAmount,ourCurrency,providerAmount,providerCurrency,nudged',
      `amount_mismatch,"t_a,1","'=HYPERLINK(""x"")",COMPLETED,settled,12500,USD,13000,USD,true`,
      '',
    ]);
  });
});
