import * as vscode from 'vscode';
import { configSection, Settings } from '../../shared/commandIds';
import { defaultPythonPath } from '../../training/pytorch/engine';

export interface PythonInterpreter {
	readonly path: string;
	/** Where it came from, for messages: the setting, the Python extension, or the default. */
	readonly source: 'setting' | 'python-extension' | 'default';
}

type Api = Record<string, unknown>;
const isApi = (value: unknown): value is Api => typeof value === 'object' && value !== null;
const call = (target: Api | undefined, name: string, ...args: unknown[]): unknown => {
	const fn = target?.[name];
	return typeof fn === 'function' ? (fn as (...a: unknown[]) => unknown).apply(target, args) : undefined;
};

/**
 * The interpreter the PyTorch engine runs in: `crossbarLens.training.pythonPath`, else the one
 * selected in the Python extension (ms-python.python, when installed), else /usr/bin/python3
 * (python3 when it does not exist). The Python extension's API is read defensively: its
 * `environments` API (2023+) first, then the older `settings.getExecutionDetails`.
 */
export async function resolvePythonInterpreter(scope: vscode.Uri | undefined, log: vscode.LogOutputChannel): Promise<PythonInterpreter> {
	const configured = vscode.workspace.getConfiguration(configSection, scope).get<string>(Settings.trainingPythonPath, '').trim();
	if (configured) {
		const folder = scope ? vscode.workspace.getWorkspaceFolder(scope) : vscode.workspace.workspaceFolders?.[0];
		return { path: folder ? configured.replace(/\$\{workspaceFolder\}/g, folder.uri.fsPath) : configured, source: 'setting' };
	}
	const extension = vscode.extensions.getExtension('ms-python.python');
	if (extension) {
		try {
			const api: unknown = extension.isActive ? extension.exports : await extension.activate();
			if (isApi(api)) {
				const environments = isApi(api.environments) ? api.environments : undefined;
				const active = call(environments, 'getActiveEnvironmentPath', scope);
				if (isApi(active)) {
					const resolved: unknown = await call(environments, 'resolveEnvironment', active);
					const executable = isApi(resolved) && isApi(resolved.executable) && isApi(resolved.executable.uri) ? (resolved.executable.uri as unknown as vscode.Uri).fsPath : undefined;
					const path = executable ?? (typeof active.path === 'string' ? active.path : undefined);
					if (path) return { path, source: 'python-extension' };
				}
				const details = call(isApi(api.settings) ? api.settings : undefined, 'getExecutionDetails', scope);
				const command = isApi(details) ? details.execCommand : undefined;
				if (Array.isArray(command) && typeof command[0] === 'string' && command[0] !== '') {
					return { path: command[0], source: 'python-extension' };
				}
			}
		} catch (ex) {
			log.warn(`fine-tune: could not ask the Python extension for its interpreter: ${ex instanceof Error ? ex.message : String(ex)}`);
		}
	}
	return { path: defaultPythonPath(), source: 'default' };
}
