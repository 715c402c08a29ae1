import type { ServiceApi, ServiceRouteDeps } from './service-routes';

/** Routes of issue 13 (see ../shared/ARCHITECTURE.md); filled in by its parts. */
export function registerReconciliationRoutes(_api: ServiceApi, _deps: ServiceRouteDeps): void {}
