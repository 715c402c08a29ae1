/** Errors a calling service can act on; `type` is stable, `message` is for people. */
export class InvoiceError extends Error {
  constructor(
    readonly type: string,
    message: string,
  ) {
    super(message);
    this.name = type;
  }
}

/** The request did not pass validation; `issues` name each field by its path. */
export class InvalidInvoiceRequestError extends InvoiceError {
  constructor(readonly issues: { path: string; message: string }[]) {
    super(
      'InvalidInvoiceRequest',
      `invalid invoice request: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`,
    );
  }
}

export class InvoiceNotFoundError extends InvoiceError {
  constructor(readonly invoiceId: string) {
    super('InvoiceNotFound', `no invoice ${invoiceId}`);
  }
}

/** The same invoice id was used before with a different request. */
export class InvoiceConflictError extends InvoiceError {
  constructor(readonly invoiceId: string) {
    super('InvoiceConflict', `invoice ${invoiceId} already exists with a different request`);
  }
}

/** The workflow refused the decision in its current state (its validator's reason is the message). */
export class InvoiceStateError extends InvoiceError {
  constructor(message: string) {
    super('InvalidState', message);
  }
}

/** The deciding party may not approve or reject this invoice. */
export class NotAllowedError extends InvoiceError {
  constructor(message: string) {
    super('NotAllowed', message);
  }
}

/** The provider refused a completion by hand, or could not be reached in time; the invoice still waits for payment. */
export class ForceCompleteFailedError extends InvoiceError {
  constructor(message: string) {
    super('ForceCompleteFailed', message);
  }
}

/**
 * The invoice exists, durably, but its workflow cannot report its state right now: Temporal refuses queries before a
 * workflow's first task completes and while its tasks keep failing (a worker killed mid-task, a bad deploy). Asking
 * again shortly works; nothing was lost.
 */
export class InvoiceNotReadyError extends InvoiceError {
  constructor(readonly invoiceId: string) {
    super('InvoiceNotReady', `invoice ${invoiceId} cannot report its state yet; retry shortly`);
  }
}
