/**
 * Why a file could not be read as a model. Stable strings: scripts and tests match on them,
 * and the CLI prints them in its one-line error.
 */
export type ModelFormatReason =
	| 'not-found'
	| 'unreadable'
	| 'empty'
	| 'truncated'
	| 'bad-magic'
	| 'unknown-format'
	| 'corrupt'
	| 'unsupported-dtype'
	| 'unsupported-format'
	| 'unsafe-pickle-global'
	| 'too-large'
	| 'nan-weights'
	| 'no-layers'
	| 'legacy-format';

/** A model file that cannot be read; `message` names the file and the problem in one line. */
export class ModelFormatError extends Error {
	static is(ex: unknown, reason?: ModelFormatReason): ex is ModelFormatError {
		return ex instanceof ModelFormatError && (reason === undefined || ex.reason === reason);
	}

	constructor(readonly reason: ModelFormatReason, message: string, options?: ErrorOptions) {
		super(message.replace(/\s*\n\s*/g, ' '), options);
		this.name = 'ModelFormatError';
	}
}

/** A hardware profile or option the user gave that cannot be used (CLI exit code 2). */
export class UsageError extends Error {
	constructor(message: string) {
		super(message);
		this.name = 'UsageError';
	}
}

/** Thrown by pure code when its AbortSignal fires. */
export function throwIfAborted(signal?: AbortSignal): void {
	if (signal?.aborted) {
		throw new DOMException('The operation was cancelled.', 'AbortError');
	}
}

export function isAbortError(ex: unknown): boolean {
	return ex instanceof Error && ex.name === 'AbortError';
}
