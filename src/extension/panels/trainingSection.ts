import * as vscode from 'vscode';
import { Commands } from '../../shared/commandIds';
import type { TrainingAction, TrainingCapabilityDto } from '../../shared/protocol';
import type { TrainingRunDto } from '../../shared/training';
import { Disposable } from '../disposable';
import { concerns } from '../training/runRegistry';
import type { PanelHost } from './panelHost';

/** The fine-tune button runs training code: trusted workspaces only. */
function trainingCapability(): TrainingCapabilityDto {
	return vscode.workspace.isTrusted
		? { available: true }
		: { available: false, reason: 'Run D.U.B. fine-tune runs training code: trust this workspace to use it.' };
}

/**
 * The panel's fine-tune section: follows the newest run of (or into) the panel's model in the
 * window's run registry and sends its whole state on every change; starts runs and passes the
 * run buttons (open, reveal, cancel) on.
 */
export class TrainingSection extends Disposable {
	/** The fine-tune run of (or into) this model that the panel shows. */
	private run: TrainingRunDto | undefined;

	constructor(private readonly host: PanelHost) {
		super();
		const runs = host.services.trainingRuns;
		this.run = runs.forPath(host.path);
		this.replay();
		this.register(runs.onDidChange((run) => {
			if (concerns(run, host.path) && (run.runId === this.run?.runId || run.startedAt >= (this.run?.startedAt ?? 0))) {
				this.run = run;
				void host.post({ type: 'training/update', run });
			}
		}));
		this.register(vscode.workspace.onDidGrantWorkspaceTrust(() => void host.post({ type: 'training/capability', capability: trainingCapability() })));
	}

	/** The webview (re)loaded: whether its fine-tune button works. */
	ready(): void {
		void this.host.post({ type: 'training/capability', capability: trainingCapability() });
	}

	/** Sends the run again to a webview that lost its page. */
	replay(): void {
		if (this.run) void this.host.post({ type: 'training/update', run: this.run });
	}

	async start(): Promise<void> {
		await vscode.commands.executeCommand(Commands.runFineTune, vscode.Uri.file(this.host.path));
	}

	async action(runId: string, action: TrainingAction): Promise<void> {
		const runs = this.host.services.trainingRuns;
		const run = runs.get(runId);
		if (!run) return;
		if (action === 'cancel') {
			runs.cancel(run.runId);
		} else if (action === 'open') {
			await vscode.commands.executeCommand(Commands.analyzeModel, vscode.Uri.file(run.outputPath));
		} else {
			await vscode.commands.executeCommand('revealInExplorer', vscode.Uri.file(run.outputPath));
		}
	}
}
