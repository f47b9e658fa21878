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

/** Approves (or rejects) the change requests the others make: a second person for every change. */
export const APPROVER = {
  name: 'bea',
  role: 'approver',
  password: 'bea-e2e-password-1',
};
