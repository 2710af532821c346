/** The outcome of one `routemq doctor` check. */
export interface DoctorCheck {
  readonly check: string;
  readonly status: 'pass' | 'warn' | 'fail' | 'skip';
  readonly detail: string;
  /** What to do about a warning or a failure. */
  readonly fix?: string;
}
