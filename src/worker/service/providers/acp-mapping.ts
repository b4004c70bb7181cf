/**
 * The ACP provider's decisions about the protocol's values, each made here once: how a prompt's stop
 * reason settles a turn, how an approval decision picks one of the options the agent offered, and
 * which ACP session mode a lanepool runtime mode names. Pure functions; the README's tables mirror them.
 */
import type { PermissionOption, PermissionOptionKind, RequestPermissionOutcome, SessionModeState, StopReason } from '@agentclientprotocol/sdk';
import type { TurnStatus } from '../../../shared/service/provider.ts';

/**
 * A `session/prompt` response's `stopReason` as the turn's status. Only `end_turn` is a turn that did
 * what it was asked; the limits and a refusal stopped it short, so they are `failed`, and the result's
 * `output.stopReason` says which.
 */
export const TURN_STATUS: Readonly<Record<StopReason, TurnStatus>> = Object.freeze({
  end_turn: 'completed',
  cancelled: 'interrupted',
  max_tokens: 'failed',
  max_turn_requests: 'failed',
  refusal: 'failed',
});

/** A stop reason this version does not know (a newer agent's) is a turn that did not end as asked. */
export function turnStatus(reason: string): TurnStatus {
  return Object.hasOwn(TURN_STATUS, reason) ? TURN_STATUS[reason as StopReason] : 'failed';
}

/** The decisions of `thread.approval.respond`. */
export type Decision = 'accept' | 'accept-for-session' | 'decline' | 'cancel';

/**
 * The option kinds each decision takes, in order of preference. An allowing decision never takes an
 * option that allows more than asked (`accept` never takes `allow_always`); a refusing one may take
 * the broader refusal, which allows nothing.
 */
export const DECISION_KINDS: Readonly<Record<Decision, readonly PermissionOptionKind[]>> = Object.freeze({
  accept: ['allow_once'],
  'accept-for-session': ['allow_always', 'allow_once'],
  decline: ['reject_once', 'reject_always'],
  cancel: [],
});

/** What answering a permission request with a decision sends back, or why it cannot be answered so. */
export type Pick =
  | { ok: true; outcome: RequestPermissionOutcome; option?: PermissionOption }
  | { ok: false; detail: string };

/**
 * Maps a decision onto the options the agent offered. `cancel`, and `decline` when the agent offered
 * no way to refuse, answer `cancelled` (which ACP treats as not allowed). An allowing decision with no
 * option of a kind it may take is refused, so the client can answer again: nothing is sent.
 */
export function pickOption(decision: string, options: readonly PermissionOption[]): Pick {
  if (!Object.hasOwn(DECISION_KINDS, decision)) return { ok: false, detail: `unknown decision ${JSON.stringify(decision)}` };
  for (const kind of DECISION_KINDS[decision as Decision]) {
    const option = options.find((offered) => offered.kind === kind);
    if (option !== undefined) return { ok: true, outcome: { outcome: 'selected', optionId: option.optionId }, option };
  }
  if (decision === 'accept' || decision === 'accept-for-session') {
    const offered = options.map((option) => option.kind).join(', ') || 'none';
    return { ok: false, detail: `the agent offered no option that ${decision} may take (offered: ${offered})` };
  }
  return { ok: true, outcome: { outcome: 'cancelled' } };
}

/**
 * The ACP mode a runtime mode names, if the agent offers one: ids are compared without case and
 * without `-` and `_`, since a runtime mode is lowercase with dashes (`accept-edits`) and agents spell
 * theirs as they like (`acceptEdits`).
 */
export function modeFor(runtimeMode: string, modes: SessionModeState | null | undefined): string | undefined {
  const plain = (id: string) => id.toLowerCase().replace(/[-_]/g, '');
  return modes?.availableModes.find((mode) => plain(mode.id) === plain(runtimeMode))?.id;
}
