import * as vscode from 'vscode';
import { isAbortError, ModelFormatError, UsageError } from '../core/errors';

/**
 * The one place errors meet the user: cancellation is silent; a ModelFormatError or a
 * UsageError (bad setting, file exists) shows its own message; anything else logs the stack
 * and shows a generic message. Every message offers "Show Log".
 */
export function reportError(ex: unknown, log: vscode.LogOutputChannel, what = 'Crossbar Lens'): void {
	if (isAbortError(ex) || ex instanceof vscode.CancellationError) {
		log.info(`${what}: cancelled`);
		return;
	}
	const known = ModelFormatError.is(ex) || ex instanceof UsageError;
	if (known) {
		log.warn(`${what}: ${(ex as Error).message}${ModelFormatError.is(ex) ? ` [${ex.reason}]` : ''}`);
	} else {
		log.error(`${what} failed:`, ex instanceof Error ? ex : String(ex));
	}
	const message = known ? (ex as Error).message : `${what} failed: ${ex instanceof Error ? ex.message.split('\n')[0] : String(ex)}. See the log for details.`;
	// Not awaited: the command finishes now; the message stays until the user closes it.
	void vscode.window.showErrorMessage(message, 'Show Log').then((choice) => {
		if (choice === 'Show Log') {
			log.show(true);
		}
	});
}

/** Wraps a command handler once: errors go through reportError, the handler's value is kept. */
export function wrapCommand<A extends unknown[], R>(log: vscode.LogOutputChannel, name: string, handler: (...args: A) => Promise<R>): (...args: A) => Promise<R | undefined> {
	return async (...args: A) => {
		try {
			return await handler(...args);
		} catch (ex) {
			reportError(ex, log, name);
			return undefined;
		}
	};
}

/** An AbortSignal that follows a CancellationToken (pure code only knows AbortSignal). */
export function abortSignalFor(token: vscode.CancellationToken, ...others: (AbortSignal | undefined)[]): { signal: AbortSignal; dispose(): void } {
	const controller = new AbortController();
	const subscription = token.onCancellationRequested(() => controller.abort());
	if (token.isCancellationRequested) {
		controller.abort();
	}
	const listeners = others.filter((s): s is AbortSignal => s !== undefined).map((s) => {
		const onAbort = (): void => controller.abort();
		if (s.aborted) controller.abort();
		s.addEventListener('abort', onAbort, { once: true });
		return () => s.removeEventListener('abort', onAbort);
	});
	return {
		signal: controller.signal,
		dispose: () => {
			subscription.dispose();
			listeners.forEach((off) => off());
		},
	};
}
