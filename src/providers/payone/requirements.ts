import type { ProviderRequirements } from '../types';

/**
 * Nothing beyond the shared schema: create reads the id, amount, currency (every one we accept has the numeric code
 * PayOne wants), the approval timeout, the email and an optional description. Its only direction, pay-in, is checked
 * from the definition's `directions`.
 */
export const payoneRequirements: ProviderRequirements = () => [];
