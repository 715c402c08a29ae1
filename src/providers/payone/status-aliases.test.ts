import { configProblems, PRODUCTION_ENV } from '../../../test/support/production-env';
import { loadConfig } from '../../config';
import { createLogger } from '../../logger';
import { payone } from '.';

describe('PAYONE_STATUS_ALIASES', () => {
  it('is read as JSON of PayOne status words to PayOne states, and kept apart from the built-in table', () => {
    const config = loadConfig({ PAYONE_STATUS_ALIASES: '{"On_Hold":"pre-authorized","voided":"deactivated"}' });
    expect(config.providers.payone.statusAliases).toEqual({ On_Hold: 'pre-authorized', voided: 'deactivated' });
    expect(Object.isFrozen(config.providers.payone.statusAliases)).toBe(true);
    expect(loadConfig({}).providers.payone).not.toHaveProperty('statusAliases');
  });

  it('refuses a table it cannot use at startup, naming the variable and the entry', () => {
    expect(configProblems({ PAYONE_STATUS_ALIASES: '{on_hold: paid}' })).toEqual([
      expect.stringMatching(/^PAYONE_STATUS_ALIASES: not JSON; expected \{"<status PayOne answers>"/),
    ]);
    expect(configProblems({ PAYONE_STATUS_ALIASES: '{"on_hold":"held","ok":"paid"}' })).toEqual([
      expect.stringMatching(
        /^PAYONE_STATUS_ALIASES: entry "on_hold": expected one of active, inactive, pre-authorized/,
      ),
    ]);
    expect(configProblems({ PAYONE_STATUS_ALIASES: '{" ":"paid"}' })).toEqual([
      expect.stringMatching(/^PAYONE_STATUS_ALIASES: entry " ": a status must not be blank/),
    ]);
    expect(configProblems({ PAYONE_STATUS_ALIASES: '["paid"]' })).toEqual([
      expect.stringMatching(/^PAYONE_STATUS_ALIASES: .*expected record/),
    ]);
  });

  it('is optional in production, where the adapter is built with or without it', () => {
    expect(configProblems(PRODUCTION_ENV)).toEqual([]);
    const logger = createLogger({ level: 'silent' });
    for (const env of [PRODUCTION_ENV, { ...PRODUCTION_ENV, PAYONE_STATUS_ALIASES: '{"on_hold":"pre-authorized"}' }]) {
      expect(payone.create({ config: loadConfig(env), logger }).name).toBe('payone');
    }
  });
});
