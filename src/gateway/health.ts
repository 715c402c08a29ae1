import type { Client } from '@temporalio/client';
import { TASK_QUEUES } from '../workflows/definitions';

const CHECK_DEADLINE_MS = 2_000;

/** Temporal answers: the frontend is reachable and serving. */
export function temporalHealthCheck(client: Client): () => Promise<boolean> {
  return async () => {
    await client.connection.withDeadline(Date.now() + CHECK_DEADLINE_MS, () =>
      client.workflowService.getSystemInfo({}),
    );
    return true;
  };
}

/** Some worker has polled the invoices task queue recently: invoices started now will move. */
export function workerHealthCheck(client: Client): () => Promise<boolean> {
  return async () => {
    const response = await client.connection.withDeadline(Date.now() + CHECK_DEADLINE_MS, () =>
      client.workflowService.describeTaskQueue({
        namespace: client.options.namespace,
        taskQueue: { name: TASK_QUEUES.invoices },
      }),
    );
    return (response.pollers?.length ?? 0) > 0;
  };
}
