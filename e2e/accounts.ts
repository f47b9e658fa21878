/** The account global-setup creates with `greenlight user add` before the server starts. */
export const OPERATOR = {
  name: 'carol',
  role: 'operator',
  password: 'carol-e2e-password-1',
};
