/**
 * A dataset that cannot be read or does not fit: its message is one line that names the file and
 * the problem. Both engines keep the class across their process boundary (the tfjs worker by the
 * error's name, the PyTorch engine by the `dataset` flag of its error line), so the CLI can print
 * that line alone.
 */
export class DatasetError extends Error {
	constructor(message: string) {
		super(message);
		this.name = 'DatasetError';
	}

	static is(ex: unknown): ex is DatasetError {
		return ex instanceof Error && ex.name === 'DatasetError';
	}
}
