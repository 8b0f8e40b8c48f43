// The wfdsl extension: starts `wfdsl lsp` (the language server) for .wf files.
"use strict";

const vscode = require("vscode");
const { LanguageClient, TransportKind } = require("vscode-languageclient/node");

let client;

/** The language client's options for a configuration (exported for the tests). */
function clientParts(config) {
  const [command, ...args] = config.get("server.command") || ["wfdsl", "lsp"];
  const serverOptions = { command, args, transport: TransportKind.stdio };
  const clientOptions = {
    documentSelector: [
      { scheme: "file", language: "wfdsl" },
      { scheme: "untitled", language: "wfdsl" },
    ],
    initializationOptions: { debounceMs: config.get("server.debounceMs", 250) },
    synchronize: {
      fileEvents: vscode.workspace.createFileSystemWatcher("**/{*.wf,wfdsl.toml,pyproject.toml}"),
    },
  };
  return { command, args, serverOptions, clientOptions };
}

async function activate(context) {
  const { command, args, serverOptions, clientOptions } = clientParts(vscode.workspace.getConfiguration("wfdsl"));
  client = new LanguageClient("wfdsl", "wfdsl language server", serverOptions, clientOptions);
  context.subscriptions.push(client);
  try {
    await client.start();
  } catch (error) {
    vscode.window.showErrorMessage(
      `wfdsl: could not start \`${[command, ...args].join(" ")}\` (${error.message}). ` +
        "Install it with pip install 'wfdsl-crm[lsp]', or set wfdsl.server.command.",
    );
  }
}

function deactivate() {
  return client ? client.stop() : undefined;
}

module.exports = { activate, deactivate, clientParts };
