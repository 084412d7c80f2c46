import type * as vscode from 'vscode';

/** Owns disposables and disposes them once, in reverse order (VS Code's own Disposable pattern). */
export class Disposable implements vscode.Disposable {
	private readonly owned: vscode.Disposable[] = [];
	private disposed = false;

	protected get isDisposed(): boolean {
		return this.disposed;
	}

	protected register<T extends vscode.Disposable>(disposable: T): T {
		if (this.disposed) {
			disposable.dispose();
		} else {
			this.owned.push(disposable);
		}
		return disposable;
	}

	dispose(): void {
		if (this.disposed) {
			return;
		}
		this.disposed = true;
		for (const d of this.owned.splice(0).reverse()) {
			try {
				d.dispose();
			} catch {
				// one failing dispose must not keep the others alive
			}
		}
	}
}
