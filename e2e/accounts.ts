/** The account global-setup creates with `greenlight user add` before the server starts. */
export const OPERATOR = {
  name: 'carol',
  role: 'operator',
  password: 'carol-e2e-password-1',
};

/** A read-only account: sees everything, changes nothing. */
export const VIEWER = {
  name: 'victor',
  role: 'viewer',
  password: 'victor-e2e-password-1',
};

/** Manages the team's accounts on the users page. */
export const ADMIN = {
  name: 'ada',
  role: 'admin',
  password: 'ada-e2e-password-1',
};
