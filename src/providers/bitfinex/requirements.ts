import type { ProviderRequirements } from '../types';

/**
 * Nothing beyond the shared schema: without the customer's address the adapter creates a POS invoice instead of an
 * e-commerce one, and without pay currencies it offers its defaults. Its only direction, pay-in, is checked from the
 * definition's `directions`.
 */
export const bitfinexRequirements: ProviderRequirements = () => [];
