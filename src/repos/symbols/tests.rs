//! Golden tests of the extractors: one realistic file per language with every symbol's
//! qualified name, kind, lines and export checked, and the signatures, parameters, return
//! types, docs and imports of the interesting ones; the module path rules; robustness on
//! broken input; and a throughput check (ignored by default).

use super::*;

use SymbolKind::{
    Class, Constant, Enum, Field, Function, Interface, Method, Module, Struct, Trait, Type,
};

/// One expected symbol: qualified name, kind, start line, end line, exported.
type Row = (&'static str, SymbolKind, u32, u32, bool);

/// Asserts that `file` holds exactly the symbols `expected`, in order, and that each one's
/// parent and name make up its qualified name.
fn assert_outline(file: &FileSymbols, expected: &[Row]) {
    let actual: Vec<(String, SymbolKind, u32, u32, bool)> = file
        .symbols
        .iter()
        .map(|s| {
            (
                s.qualified_name.clone(),
                s.kind,
                s.start_line,
                s.end_line,
                s.exported,
            )
        })
        .collect();
    let expected: Vec<(String, SymbolKind, u32, u32, bool)> = expected
        .iter()
        .map(|&(name, kind, start, end, exported)| (name.to_string(), kind, start, end, exported))
        .collect();
    assert_eq!(actual, expected);
    for symbol in &file.symbols {
        match &symbol.parent {
            Some(parent) => assert_eq!(symbol.qualified_name, format!("{parent}.{}", symbol.name)),
            None => assert!(
                symbol.kind == Module || symbol.qualified_name == symbol.name,
                "{symbol:?}"
            ),
        }
    }
}

/// The `index`-th symbol (0 for the first) with this qualified name.
fn symbol<'f>(file: &'f FileSymbols, qualified_name: &str, index: usize) -> &'f Symbol {
    file.symbols
        .iter()
        .filter(|s| s.qualified_name == qualified_name)
        .nth(index)
        .unwrap_or_else(|| panic!("no symbol {qualified_name} #{index}"))
}

fn param(
    name: &str,
    type_: Option<&str>,
    default: Option<&str>,
    kind: ParamKind,
    optional: bool,
) -> Param {
    Param {
        name: name.to_string(),
        type_: type_.map(str::to_string),
        default: default.map(str::to_string),
        kind,
        optional,
    }
}

/// A parameter with just a name and maybe a type.
fn plain(name: &str, type_: Option<&str>) -> Param {
    param(name, type_, None, ParamKind::Normal, false)
}

fn import(module: &str, name: Option<&str>, alias: Option<&str>, line: u32) -> Import {
    Import {
        module: module.to_string(),
        name: name.map(str::to_string),
        alias: alias.map(str::to_string),
        line,
    }
}

const PYTHON: &str = r#""""HTTP sessions.

Keeps settings across requests.
"""
import os
import urllib.parse as up
from typing import Any, Optional as Opt
from . import adapters
from .compat import *

DEFAULT_TIMEOUT = 5.0
_registry = {}


def _private_helper(value):
    """Normalise a value."""
    def inner():
        return value
    return inner()


class Session(SessionRedirectMixin):
    """A user session.

        Indented detail.
    """

    max_redirects: int = 30

    def __init__(self, url, *, timeout=5.0, **kwargs):
        self.url = url
        self.timeout = timeout
        if kwargs:
            self.extra, self.url = kwargs, url

        def nested():
            self.hidden = 1

    @staticmethod
    def build(url: str, /, retries: int = 3, *args: Any) -> "Session":
        return Session(url)

    @classmethod
    def from_env(cls) -> "Session":
        return cls(os.environ["URL"])

    async def send(self, request, **kwargs) -> Response:
        """Send a request."""
        return await self._send(request)

    def _send(self, request):
        pass

    class Config:
        verbose = False


async def fetch(url: str, *, timeout: float = 5.0) -> bytes:
    import json
    return json.dumps(url)
"#;

#[test]
fn python_golden() {
    let file = extract(Language::Python, "requests/sessions.py", PYTHON);
    assert_eq!(file.module, "requests.sessions");
    let m = "requests.sessions";
    let s = "requests.sessions.Session";
    assert_outline(
        &file,
        &[
            (m, Module, 1, 60, true),
            ("requests.sessions.DEFAULT_TIMEOUT", Constant, 11, 11, true),
            ("requests.sessions._registry", Constant, 12, 12, false),
            ("requests.sessions._private_helper", Function, 15, 19, false),
            (s, Class, 22, 55, true),
            (
                "requests.sessions.Session.max_redirects",
                Field,
                28,
                28,
                true,
            ),
            ("requests.sessions.Session.__init__", Method, 30, 37, true),
            ("requests.sessions.Session.url", Field, 31, 31, true),
            ("requests.sessions.Session.timeout", Field, 32, 32, true),
            ("requests.sessions.Session.extra", Field, 34, 34, true),
            ("requests.sessions.Session.build", Method, 40, 41, true),
            ("requests.sessions.Session.from_env", Method, 44, 45, true),
            ("requests.sessions.Session.send", Method, 47, 49, true),
            ("requests.sessions.Session._send", Method, 51, 52, false),
            ("requests.sessions.Session.Config", Class, 54, 55, true),
            (
                "requests.sessions.Session.Config.verbose",
                Field,
                55,
                55,
                true,
            ),
            ("requests.sessions.fetch", Function, 58, 60, true),
        ],
    );

    let module = symbol(&file, m, 0);
    assert_eq!(module.name, "sessions");
    assert_eq!(module.parent, None);
    assert_eq!(module.signature, "module requests.sessions");
    assert_eq!(
        module.doc.as_deref(),
        Some("HTTP sessions.\n\nKeeps settings across requests.")
    );

    let helper = symbol(&file, "requests.sessions._private_helper", 0);
    assert_eq!(helper.parent.as_deref(), Some(m));
    assert_eq!(helper.doc.as_deref(), Some("Normalise a value."));
    assert_eq!(helper.params, vec![plain("value", None)]);

    let session = symbol(&file, s, 0);
    assert_eq!(session.signature, "class Session(SessionRedirectMixin)");
    assert_eq!(
        session.doc.as_deref(),
        Some("A user session.\n\nIndented detail.")
    );

    let init = symbol(&file, "requests.sessions.Session.__init__", 0);
    assert_eq!(init.name, "__init__");
    assert_eq!(init.parent.as_deref(), Some(s));
    assert_eq!(
        init.signature,
        "def __init__(self, url, *, timeout=5.0, **kwargs)"
    );
    assert_eq!(
        init.params,
        vec![
            plain("url", None),
            param("timeout", None, Some("5.0"), ParamKind::KeywordOnly, true),
            param("kwargs", None, None, ParamKind::VarKeyword, true),
        ]
    );
    assert_eq!(init.returns, None);
    assert_eq!(
        symbol(&file, "requests.sessions.Session.url", 0).signature,
        "self.url = url"
    );

    let build = symbol(&file, "requests.sessions.Session.build", 0);
    assert_eq!(
        build.signature,
        r#"def build(url: str, /, retries: int = 3, *args: Any) -> "Session""#
    );
    assert_eq!(
        build.params,
        vec![
            param("url", Some("str"), None, ParamKind::PositionalOnly, false),
            param("retries", Some("int"), Some("3"), ParamKind::Normal, true),
            param("args", Some("Any"), None, ParamKind::VarPositional, true),
        ]
    );
    assert_eq!(build.returns.as_deref(), Some(r#""Session""#));
    assert!(
        symbol(&file, "requests.sessions.Session.from_env", 0)
            .params
            .is_empty()
    );

    let send = symbol(&file, "requests.sessions.Session.send", 0);
    assert_eq!(
        send.signature,
        "async def send(self, request, **kwargs) -> Response"
    );
    assert_eq!(send.returns.as_deref(), Some("Response"));
    assert_eq!(send.doc.as_deref(), Some("Send a request."));

    let fetch = symbol(&file, "requests.sessions.fetch", 0);
    assert_eq!(
        fetch.signature,
        "async def fetch(url: str, *, timeout: float = 5.0) -> bytes"
    );
    assert_eq!(
        fetch.params,
        vec![
            plain("url", Some("str")),
            param(
                "timeout",
                Some("float"),
                Some("5.0"),
                ParamKind::KeywordOnly,
                true
            ),
        ]
    );

    assert_eq!(
        file.imports,
        vec![
            import("os", None, None, 5),
            import("urllib.parse", None, Some("up"), 6),
            import("typing", Some("Any"), None, 7),
            import("typing", Some("Optional"), Some("Opt"), 7),
            import(".", Some("adapters"), None, 8),
            import(".compat", Some("*"), None, 9),
            import("json", None, None, 59),
        ]
    );
}

const RUST: &str = r#"//! An async mutex.
//!
//! Fair: waiters are served in order.

use std::cell::UnsafeCell;
use std::sync::{Arc, atomic::{AtomicBool as Flag, Ordering}};
use crate::sync::*;

/// Locks a resource.
///
/// Waiters queue up.
#[derive(Debug)]
pub struct Mutex<T: ?Sized> {
    /// Whether it is locked.
    pub(crate) locked: Flag,
    waiters: usize,
    data: UnsafeCell<T>,
}

/// What `lock` returns.
pub struct MutexGuard<'a, T: ?Sized>(&'a Mutex<T>);

/// Something that can be locked.
pub trait Lock {
    /// Takes the lock.
    fn lock(&self) -> bool;

    fn try_lock(&self, spins: u32) -> bool {
        spins > 0 && self.lock()
    }
}

impl<T> Mutex<T> {
    /** Creates a new, unlocked mutex. */
    pub fn new(value: T) -> Self {
        Mutex { locked: Flag::new(false), waiters: 0, data: UnsafeCell::new(value) }
    }

    pub fn lock(&self) -> MutexGuard<'_, T> {
        MutexGuard(self)
    }

    fn wake(&mut self, count: usize) {
        self.waiters -= count;
    }
}

impl<T> Lock for Mutex<T> {
    fn lock(&self) -> bool {
        !self.locked.swap(true, Ordering::Acquire)
    }
}

pub enum State {
    Idle,
    Locked(u32),
}

pub const MAX_WAITERS: usize = 1 << 16;
static COUNTER: Flag = Flag::new(false);
pub type Result<T> = std::result::Result<T, State>;

fn helper(mut a: u8, (b, c): (u8, u8)) -> u8 {
    use std::ops::Add;
    a.add(b) + c
}

pub mod raw {
    //! Raw parts.
    pub fn unlock() {}
}

#[cfg(test)]
mod tests;
"#;

#[test]
fn rust_golden() {
    let file = extract(Language::Rust, "tokio/src/sync/mutex.rs", RUST);
    assert_eq!(file.module, "tokio.sync.mutex");
    let m = "tokio.sync.mutex";
    assert_outline(
        &file,
        &[
            (m, Module, 1, 74, true),
            ("tokio.sync.mutex.Mutex", Struct, 13, 18, true),
            ("tokio.sync.mutex.Mutex.locked", Field, 15, 15, true),
            ("tokio.sync.mutex.Mutex.waiters", Field, 16, 16, false),
            ("tokio.sync.mutex.Mutex.data", Field, 17, 17, false),
            ("tokio.sync.mutex.MutexGuard", Struct, 21, 21, true),
            ("tokio.sync.mutex.Lock", Trait, 24, 31, true),
            ("tokio.sync.mutex.Lock.lock", Method, 26, 26, true),
            ("tokio.sync.mutex.Lock.try_lock", Method, 28, 30, true),
            ("tokio.sync.mutex.Mutex.new", Method, 35, 37, true),
            ("tokio.sync.mutex.Mutex.lock", Method, 39, 41, true),
            ("tokio.sync.mutex.Mutex.wake", Method, 43, 45, false),
            // `impl Lock for Mutex`: a trait impl's methods are public.
            ("tokio.sync.mutex.Mutex.lock", Method, 49, 51, true),
            ("tokio.sync.mutex.State", Enum, 54, 57, true),
            ("tokio.sync.mutex.State.Idle", Constant, 55, 55, true),
            ("tokio.sync.mutex.State.Locked", Constant, 56, 56, true),
            ("tokio.sync.mutex.MAX_WAITERS", Constant, 59, 59, true),
            ("tokio.sync.mutex.COUNTER", Constant, 60, 60, false),
            ("tokio.sync.mutex.Result", Type, 61, 61, true),
            ("tokio.sync.mutex.helper", Function, 63, 66, false),
            ("tokio.sync.mutex.raw", Module, 68, 71, true),
            ("tokio.sync.mutex.raw.unlock", Function, 70, 70, true),
        ],
    );

    let module = symbol(&file, m, 0);
    assert_eq!(module.name, "mutex");
    assert_eq!(
        module.doc.as_deref(),
        Some("An async mutex.\n\nFair: waiters are served in order.")
    );

    let mutex = symbol(&file, "tokio.sync.mutex.Mutex", 0);
    assert_eq!(mutex.signature, "pub struct Mutex<T: ?Sized>");
    assert_eq!(
        mutex.doc.as_deref(),
        Some("Locks a resource.\n\nWaiters queue up.")
    );
    let locked = symbol(&file, "tokio.sync.mutex.Mutex.locked", 0);
    assert_eq!(locked.signature, "pub(crate) locked: Flag");
    assert_eq!(locked.doc.as_deref(), Some("Whether it is locked."));
    assert_eq!(
        symbol(&file, "tokio.sync.mutex.MutexGuard", 0).signature,
        "pub struct MutexGuard<'a, T: ?Sized>(&'a Mutex<T>)"
    );

    let trait_lock = symbol(&file, "tokio.sync.mutex.Lock.lock", 0);
    assert_eq!(trait_lock.signature, "fn lock(&self) -> bool");
    assert_eq!(trait_lock.doc.as_deref(), Some("Takes the lock."));
    assert!(trait_lock.params.is_empty());
    let try_lock = symbol(&file, "tokio.sync.mutex.Lock.try_lock", 0);
    assert_eq!(try_lock.params, vec![plain("spins", Some("u32"))]);

    let new = symbol(&file, "tokio.sync.mutex.Mutex.new", 0);
    assert_eq!(new.parent.as_deref(), Some("tokio.sync.mutex.Mutex"));
    assert_eq!(new.signature, "pub fn new(value: T) -> Self");
    assert_eq!(new.doc.as_deref(), Some("Creates a new, unlocked mutex."));
    assert_eq!(new.params, vec![plain("value", Some("T"))]);
    assert_eq!(new.returns.as_deref(), Some("Self"));
    let lock = symbol(&file, "tokio.sync.mutex.Mutex.lock", 0);
    assert_eq!(lock.signature, "pub fn lock(&self) -> MutexGuard<'_, T>");
    assert!(lock.params.is_empty());
    assert_eq!(lock.returns.as_deref(), Some("MutexGuard<'_, T>"));
    let wake = symbol(&file, "tokio.sync.mutex.Mutex.wake", 0);
    assert_eq!(wake.params, vec![plain("count", Some("usize"))]);

    let helper = symbol(&file, "tokio.sync.mutex.helper", 0);
    assert_eq!(
        helper.signature,
        "fn helper(mut a: u8, (b, c): (u8, u8)) -> u8"
    );
    assert_eq!(
        helper.params,
        vec![plain("a", Some("u8")), plain("(b, c)", Some("(u8, u8)"))]
    );
    assert_eq!(
        symbol(&file, "tokio.sync.mutex.MAX_WAITERS", 0).signature,
        "pub const MAX_WAITERS: usize = 1 << 16"
    );
    let raw = symbol(&file, "tokio.sync.mutex.raw", 0);
    assert_eq!(raw.signature, "pub mod raw");
    assert_eq!(raw.doc.as_deref(), Some("Raw parts."));

    assert_eq!(
        file.imports,
        vec![
            import("std::cell", Some("UnsafeCell"), None, 5),
            import("std::sync", Some("Arc"), None, 6),
            import("std::sync::atomic", Some("AtomicBool"), Some("Flag"), 6),
            import("std::sync::atomic", Some("Ordering"), None, 6),
            import("crate::sync", Some("*"), None, 7),
            import("std::ops", Some("Add"), None, 64),
        ]
    );
}

#[test]
fn rust_imports_flatten_use_trees() {
    let source = "use a::b::{C, d::E as F, self};\nuse a::b;\nuse std;\nextern crate foo as bar;\n";
    let file = extract(Language::Rust, "src/lib.rs", source);
    assert_eq!(
        file.imports,
        vec![
            import("a::b", Some("C"), None, 1),
            import("a::b::d", Some("E"), Some("F"), 1),
            import("a", Some("b"), None, 1),
            import("a", Some("b"), None, 2),
            import("std", None, None, 3),
            import("foo", None, Some("bar"), 4),
        ]
    );
}

const TYPESCRIPT: &str = r#"/**
 * @file Stream helpers.
 */
import { Readable } from "node:stream";
import type { Options as Opts } from "./options";
import * as path from "path";
import base, { helper } from "../helper";
export * from "./types";

/** Options for a run. */
export interface Options {
  /** Chunk size in bytes. */
  chunkSize?: number;
  onChunk(chunk: Buffer): void;
}

export type Mode = "fast" | "safe";

export enum Level {
  Low,
  High = 10,
}

/** Runs a stream. */
export function runStream(input: string, opts?: Options): Promise<void>;
export function runStream(input: Buffer, opts?: Options): Promise<void>;
export async function runStream(input: string | Buffer, opts: Options = {}): Promise<void> {
  return;
}

export class StreamRunner<T> extends Base {
  private readonly queue: T[] = [];
  #secret = 1;
  static count = 0;

  constructor(private readonly name: string, public limit = 10) {
    super();
  }

  /** Pushes items. */
  push(item: T): void;
  push(items: T[]): void;
  push(itemOrItems: T | T[]): void {
    this.queue.push(...[itemOrItems].flat());
  }

  get size(): number {
    return this.queue.length;
  }

  private drain(this: StreamRunner<T>, ...rest: T[]): T[] {
    return rest;
  }
}

const toUpper = (s: string): string => s.toUpperCase();
export const VERSION = "1.0";
let counter = 0;

namespace Internal {
  export function reset({ hard }: { hard: boolean }, [first]: number[] = []): void {}
}

function hidden() {}
export { toUpper, hidden as visible };
"#;

#[test]
fn typescript_golden() {
    let file = extract(Language::TypeScript, "src/utils/stream.ts", TYPESCRIPT);
    assert_eq!(file.module, "utils.stream");
    let runner = "utils.stream.StreamRunner";
    assert_outline(
        &file,
        &[
            ("utils.stream", Module, 1, 65, true),
            ("utils.stream.Options", Interface, 11, 15, true),
            ("utils.stream.Options.chunkSize", Field, 13, 13, true),
            ("utils.stream.Options.onChunk", Method, 14, 14, true),
            ("utils.stream.Mode", Type, 17, 17, true),
            ("utils.stream.Level", Enum, 19, 22, true),
            ("utils.stream.Level.Low", Constant, 20, 20, true),
            ("utils.stream.Level.High", Constant, 21, 21, true),
            ("utils.stream.runStream", Function, 25, 25, true),
            ("utils.stream.runStream", Function, 26, 26, true),
            ("utils.stream.runStream", Function, 27, 29, true),
            (runner, Class, 31, 54, true),
            ("utils.stream.StreamRunner.queue", Field, 32, 32, false),
            ("utils.stream.StreamRunner.#secret", Field, 33, 33, false),
            ("utils.stream.StreamRunner.count", Field, 34, 34, true),
            (
                "utils.stream.StreamRunner.constructor",
                Method,
                36,
                38,
                true,
            ),
            ("utils.stream.StreamRunner.name", Field, 36, 36, false),
            ("utils.stream.StreamRunner.limit", Field, 36, 36, true),
            ("utils.stream.StreamRunner.push", Method, 41, 41, true),
            ("utils.stream.StreamRunner.push", Method, 42, 42, true),
            ("utils.stream.StreamRunner.push", Method, 43, 45, true),
            ("utils.stream.StreamRunner.size", Method, 47, 49, true),
            ("utils.stream.StreamRunner.drain", Method, 51, 53, false),
            // Exported by `export { toUpper, hidden as visible }`.
            ("utils.stream.toUpper", Function, 56, 56, true),
            ("utils.stream.VERSION", Constant, 57, 57, true),
            ("utils.stream.counter", Constant, 58, 58, false),
            ("utils.stream.Internal", Module, 60, 62, false),
            ("utils.stream.Internal.reset", Function, 61, 61, true),
            ("utils.stream.hidden", Function, 64, 64, true),
        ],
    );

    assert_eq!(
        symbol(&file, "utils.stream", 0).doc.as_deref(),
        Some("Stream helpers.")
    );
    let options = symbol(&file, "utils.stream.Options", 0);
    assert_eq!(options.signature, "export interface Options");
    assert_eq!(options.doc.as_deref(), Some("Options for a run."));
    let chunk_size = symbol(&file, "utils.stream.Options.chunkSize", 0);
    assert_eq!(chunk_size.doc.as_deref(), Some("Chunk size in bytes."));
    assert_eq!(chunk_size.signature, "chunkSize?: number");
    assert_eq!(
        symbol(&file, "utils.stream.Mode", 0).signature,
        r#"export type Mode = "fast" | "safe""#
    );

    // The two overload signatures and the implementation are three symbols.
    let first = symbol(&file, "utils.stream.runStream", 0);
    assert_eq!(
        first.signature,
        "export function runStream(input: string, opts?: Options): Promise<void>"
    );
    assert_eq!(first.doc.as_deref(), Some("Runs a stream."));
    assert_eq!(
        first.params,
        vec![
            plain("input", Some("string")),
            param("opts", Some("Options"), None, ParamKind::Normal, true),
        ]
    );
    assert_eq!(first.returns.as_deref(), Some("Promise<void>"));
    let second = symbol(&file, "utils.stream.runStream", 1);
    assert_eq!(
        second.signature,
        "export function runStream(input: Buffer, opts?: Options): Promise<void>"
    );
    assert_eq!(second.params[0], plain("input", Some("Buffer")));
    let implementation = symbol(&file, "utils.stream.runStream", 2);
    assert_eq!(
        implementation.signature,
        "export async function runStream(input: string | Buffer, opts: Options = {}): Promise<void>"
    );
    assert_eq!(
        implementation.params,
        vec![
            plain("input", Some("string | Buffer")),
            param("opts", Some("Options"), Some("{}"), ParamKind::Normal, true),
        ]
    );

    assert_eq!(
        symbol(&file, runner, 0).signature,
        "export class StreamRunner<T> extends Base"
    );
    let constructor = symbol(&file, "utils.stream.StreamRunner.constructor", 0);
    assert_eq!(
        constructor.params,
        vec![
            plain("name", Some("string")),
            param("limit", None, Some("10"), ParamKind::Normal, true),
        ]
    );
    let push_one = symbol(&file, "utils.stream.StreamRunner.push", 0);
    assert_eq!(push_one.signature, "push(item: T): void");
    assert_eq!(push_one.doc.as_deref(), Some("Pushes items."));
    assert_eq!(
        symbol(&file, "utils.stream.StreamRunner.push", 1).params,
        vec![plain("items", Some("T[]"))]
    );
    assert_eq!(
        symbol(&file, "utils.stream.StreamRunner.push", 2).signature,
        "push(itemOrItems: T | T[]): void"
    );
    assert_eq!(
        symbol(&file, "utils.stream.StreamRunner.size", 0).signature,
        "get size(): number"
    );
    let drain = symbol(&file, "utils.stream.StreamRunner.drain", 0);
    // The `this` parameter is the receiver, not a parameter.
    assert_eq!(
        drain.params,
        vec![param(
            "rest",
            Some("T[]"),
            None,
            ParamKind::VarPositional,
            true
        )]
    );
    assert_eq!(drain.returns.as_deref(), Some("T[]"));

    let to_upper = symbol(&file, "utils.stream.toUpper", 0);
    assert_eq!(to_upper.signature, "const toUpper = (s: string): string");
    assert_eq!(to_upper.params, vec![plain("s", Some("string"))]);
    assert_eq!(to_upper.returns.as_deref(), Some("string"));
    assert_eq!(
        symbol(&file, "utils.stream.VERSION", 0).signature,
        r#"export const VERSION = "1.0""#
    );
    let reset = symbol(&file, "utils.stream.Internal.reset", 0);
    assert_eq!(
        reset.params,
        vec![
            plain("{ hard }", Some("{ hard: boolean }")),
            param(
                "[first]",
                Some("number[]"),
                Some("[]"),
                ParamKind::Normal,
                true
            ),
        ]
    );

    assert_eq!(
        file.imports,
        vec![
            import("node:stream", Some("Readable"), None, 4),
            import("./options", Some("Options"), Some("Opts"), 5),
            import("path", Some("*"), Some("path"), 6),
            import("../helper", Some("default"), Some("base"), 7),
            import("../helper", Some("helper"), None, 7),
            import("./types", Some("*"), None, 8),
        ]
    );
}

const TSX: &str = r#"import React, { useState } from "react";
import "./button.css";

/** Props of the button. */
export interface ButtonProps {
  label: string;
  onClick?: () => void;
}

const DEFAULT_LABEL = "OK";

/**
 * A counting button.
 */
export function Button({ label = DEFAULT_LABEL, onClick }: ButtonProps): JSX.Element {
  const [count, setCount] = useState(0);
  return (
    <button onClick={() => { setCount(count + 1); onClick?.(); }}>
      {label} {count}
    </button>
  );
}

export const Badge = (props: { text: string }) => <span className="badge">{props.text}</span>;

function useToggle(initial = false): [boolean, () => void] {
  const [on, setOn] = useState(initial);
  return [on, () => setOn(!on)];
}

export default class Panel extends React.Component<ButtonProps> {
  state = { open: false };

  render() {
    return <div className="panel">{this.props.label}</div>;
  }

  private toggle = () => this.setState({ open: !this.state.open });
}
"#;

#[test]
fn tsx_golden() {
    let file = extract(Language::TypeScript, "src/components/Button.tsx", TSX);
    assert_eq!(file.module, "components.Button");
    assert_outline(
        &file,
        &[
            ("components.Button", Module, 1, 39, true),
            ("components.Button.ButtonProps", Interface, 5, 8, true),
            ("components.Button.ButtonProps.label", Field, 6, 6, true),
            ("components.Button.ButtonProps.onClick", Field, 7, 7, true),
            ("components.Button.DEFAULT_LABEL", Constant, 10, 10, false),
            ("components.Button.Button", Function, 15, 22, true),
            ("components.Button.Badge", Function, 24, 24, true),
            ("components.Button.useToggle", Function, 26, 29, false),
            ("components.Button.Panel", Class, 31, 39, true),
            ("components.Button.Panel.state", Field, 32, 32, true),
            ("components.Button.Panel.render", Method, 34, 36, true),
            ("components.Button.Panel.toggle", Field, 38, 38, false),
        ],
    );
    let button = symbol(&file, "components.Button.Button", 0);
    assert_eq!(
        button.signature,
        "export function Button({ label = DEFAULT_LABEL, onClick }: ButtonProps): JSX.Element"
    );
    assert_eq!(
        button.params,
        vec![plain(
            "{ label = DEFAULT_LABEL, onClick }",
            Some("ButtonProps")
        )]
    );
    assert_eq!(button.returns.as_deref(), Some("JSX.Element"));
    assert_eq!(button.doc.as_deref(), Some("A counting button."));
    let badge = symbol(&file, "components.Button.Badge", 0);
    assert_eq!(badge.params, vec![plain("props", Some("{ text: string }"))]);
    let use_toggle = symbol(&file, "components.Button.useToggle", 0);
    assert_eq!(
        use_toggle.params,
        vec![param(
            "initial",
            None,
            Some("false"),
            ParamKind::Normal,
            true
        )]
    );
    assert_eq!(use_toggle.returns.as_deref(), Some("[boolean, () => void]"));
    assert_eq!(
        symbol(&file, "components.Button.Panel", 0).signature,
        "export default class Panel extends React.Component<ButtonProps>"
    );
    assert_eq!(
        file.imports,
        vec![
            import("react", Some("default"), Some("React"), 1),
            import("react", Some("useState"), None, 1),
            import("./button.css", None, None, 2),
        ]
    );
}

const JAVASCRIPT: &str = r#"/**
 * Event helpers.
 */

'use strict';

const { EventEmitter } = require("events");
const fs = require("fs");
import path, { join as joinPath } from "path";

/** Default listener limit. */
export const MAX_LISTENERS = 10;

/**
 * Creates an emitter.
 * @param {string} name
 */
export function createEmitter(name, { limit = MAX_LISTENERS } = {}, ...extra) {
  return new Emitter(name, limit);
}

function* ids(start = 0) {
  let id = start;
  while (true) yield id++;
}

class Emitter extends EventEmitter {
  static instances = 0;
  #name;

  constructor(name, limit) {
    super();
    this.#name = name;
  }

  /** Emits once. */
  async fire(event, payload = null) {
    this.emit(event, payload);
  }

  #reset() {}
}

const onError = function (err) {
  console.error(err);
};

export default Emitter;
"#;

#[test]
fn javascript_golden() {
    let file = extract(Language::JavaScript, "lib/events/index.js", JAVASCRIPT);
    assert_eq!(file.module, "events");
    assert_outline(
        &file,
        &[
            ("events", Module, 1, 48, true),
            ("events.MAX_LISTENERS", Constant, 12, 12, true),
            ("events.createEmitter", Function, 18, 20, true),
            ("events.ids", Function, 22, 25, false),
            // Exported by `export default Emitter`.
            ("events.Emitter", Class, 27, 42, true),
            ("events.Emitter.instances", Field, 28, 28, true),
            ("events.Emitter.#name", Field, 29, 29, false),
            ("events.Emitter.constructor", Method, 31, 34, true),
            ("events.Emitter.fire", Method, 37, 39, true),
            ("events.Emitter.#reset", Method, 41, 41, false),
            ("events.onError", Function, 44, 46, false),
        ],
    );
    assert_eq!(
        symbol(&file, "events", 0).doc.as_deref(),
        Some("Event helpers.")
    );
    assert_eq!(
        symbol(&file, "events.MAX_LISTENERS", 0).doc.as_deref(),
        Some("Default listener limit.")
    );
    let create = symbol(&file, "events.createEmitter", 0);
    assert_eq!(
        create.signature,
        "export function createEmitter(name, { limit = MAX_LISTENERS } = {}, ...extra)"
    );
    assert_eq!(
        create.params,
        vec![
            plain("name", None),
            param(
                "{ limit = MAX_LISTENERS }",
                None,
                Some("{}"),
                ParamKind::Normal,
                true
            ),
            param("extra", None, None, ParamKind::VarPositional, true),
        ]
    );
    assert_eq!(
        create.doc.as_deref(),
        Some("Creates an emitter.\n@param {string} name")
    );
    assert_eq!(
        symbol(&file, "events.ids", 0).signature,
        "function* ids(start = 0)"
    );
    let fire = symbol(&file, "events.Emitter.fire", 0);
    assert_eq!(fire.signature, "async fire(event, payload = null)");
    assert_eq!(fire.doc.as_deref(), Some("Emits once."));
    assert_eq!(
        fire.params,
        vec![
            plain("event", None),
            param("payload", None, Some("null"), ParamKind::Normal, true)
        ]
    );
    assert_eq!(
        symbol(&file, "events.onError", 0).params,
        vec![plain("err", None)]
    );
    assert_eq!(
        file.imports,
        vec![
            import("events", Some("EventEmitter"), None, 7),
            import("fs", None, Some("fs"), 8),
            import("path", Some("default"), Some("path"), 9),
            import("path", Some("join"), Some("joinPath"), 9),
        ]
    );
}

const GO: &str = r#"// Package client talks to the API.
package client

import (
	"context"
	h "net/http"
	_ "embed"
)

import "fmt"

// DefaultTimeout is used when none is set.
const DefaultTimeout = 30

const (
	// MaxRetries bounds retries.
	MaxRetries, minDelay = 5, 1
)

var verbose = false

// Client sends requests.
//
// It is safe for concurrent use.
type Client struct {
	// BaseURL is prefixed to paths.
	BaseURL string
	http    *h.Client
	retries, timeout int
	*Logger
}

// Doer does requests.
type Doer interface {
	// Do sends one request.
	Do(ctx context.Context, req *h.Request) (*h.Response, error)
	fmt.Stringer
}

type Option func(*Client)

// Do sends req.
func (c *Client) Do(ctx context.Context, req *h.Request) (*h.Response, error) {
	return c.http.Do(req.WithContext(ctx))
}

func (c Client) retry(n int, delays ...int) error {
	return fmt.Errorf("retry %d", n)
}

// New makes a client.

func New(base string, opts ...Option) *Client {
	return &Client{BaseURL: base}
}

func Map[T, U any](xs []T, f func(T) U) []U { return nil }
"#;

#[test]
fn go_golden() {
    let file = extract(Language::Go, "pkg/client/client.go", GO);
    assert_eq!(file.module, "client");
    assert_outline(
        &file,
        &[
            ("client.DefaultTimeout", Constant, 13, 13, true),
            ("client.MaxRetries", Constant, 17, 17, true),
            ("client.minDelay", Constant, 17, 17, false),
            ("client.verbose", Constant, 20, 20, false),
            ("client.Client", Struct, 25, 31, true),
            ("client.Client.BaseURL", Field, 27, 27, true),
            ("client.Client.http", Field, 28, 28, false),
            ("client.Client.retries", Field, 29, 29, false),
            ("client.Client.timeout", Field, 29, 29, false),
            ("client.Client.Logger", Field, 30, 30, true),
            ("client.Doer", Interface, 34, 38, true),
            ("client.Doer.Do", Method, 36, 36, true),
            ("client.Option", Type, 40, 40, true),
            ("client.Client.Do", Method, 43, 45, true),
            ("client.Client.retry", Method, 47, 49, false),
            ("client.New", Function, 53, 55, true),
            ("client.Map", Function, 57, 57, true),
        ],
    );
    let timeout = symbol(&file, "client.DefaultTimeout", 0);
    assert_eq!(timeout.signature, "const DefaultTimeout = 30");
    assert_eq!(
        timeout.doc.as_deref(),
        Some("DefaultTimeout is used when none is set.")
    );
    assert_eq!(
        symbol(&file, "client.MaxRetries", 0).doc.as_deref(),
        Some("MaxRetries bounds retries.")
    );
    let client = symbol(&file, "client.Client", 0);
    assert_eq!(client.signature, "type Client struct");
    assert_eq!(
        client.doc.as_deref(),
        Some("Client sends requests.\n\nIt is safe for concurrent use.")
    );
    assert_eq!(
        symbol(&file, "client.Client.BaseURL", 0).doc.as_deref(),
        Some("BaseURL is prefixed to paths.")
    );
    assert_eq!(
        symbol(&file, "client.Doer", 0).signature,
        "type Doer interface"
    );
    let doer_do = symbol(&file, "client.Doer.Do", 0);
    assert_eq!(doer_do.doc.as_deref(), Some("Do sends one request."));
    assert_eq!(doer_do.returns.as_deref(), Some("(*h.Response, error)"));

    let method = symbol(&file, "client.Client.Do", 0);
    assert_eq!(method.parent.as_deref(), Some("client.Client"));
    assert_eq!(
        method.signature,
        "func (c *Client) Do(ctx context.Context, req *h.Request) (*h.Response, error)"
    );
    assert_eq!(
        method.params,
        vec![
            plain("ctx", Some("context.Context")),
            plain("req", Some("*h.Request"))
        ]
    );
    assert_eq!(method.returns.as_deref(), Some("(*h.Response, error)"));
    assert_eq!(method.doc.as_deref(), Some("Do sends req."));
    let retry = symbol(&file, "client.Client.retry", 0);
    assert_eq!(
        retry.params,
        vec![
            plain("n", Some("int")),
            param("delays", Some("int"), None, ParamKind::VarPositional, true)
        ]
    );
    assert_eq!(retry.returns.as_deref(), Some("error"));
    // A blank line between a comment and a declaration: not its doc.
    let new = symbol(&file, "client.New", 0);
    assert_eq!(new.doc, None);
    assert_eq!(new.returns.as_deref(), Some("*Client"));
    let map = symbol(&file, "client.Map", 0);
    assert_eq!(map.signature, "func Map[T, U any](xs []T, f func(T) U) []U");
    assert_eq!(
        map.params,
        vec![plain("xs", Some("[]T")), plain("f", Some("func(T) U"))]
    );

    assert_eq!(
        file.imports,
        vec![
            import("context", None, None, 5),
            import("net/http", None, Some("h"), 6),
            import("embed", None, Some("_"), 7),
            import("fmt", None, None, 10),
        ]
    );
}

#[test]
fn go_params_share_types_and_receivers_drop_generics() {
    let source = "package list\n\nfunc (l *List[T]) Swap(i, j int, _ string) {}\n";
    let file = extract(Language::Go, "list.go", source);
    let swap = symbol(&file, "list.List.Swap", 0);
    assert_eq!(swap.kind, Method);
    assert_eq!(swap.parent.as_deref(), Some("list.List"));
    assert_eq!(
        swap.params,
        vec![
            plain("i", Some("int")),
            plain("j", Some("int")),
            plain("_", Some("string"))
        ]
    );
}

const JAVA: &str = r#"package com.example.http;

import java.io.IOException;
import java.util.*;
import static java.util.Objects.requireNonNull;

/**
 * Sends HTTP requests.
 *
 * <p>Thread-safe.
 */
@ThreadSafe
public class HttpClient implements AutoCloseable {
    /** Default timeout in seconds. */
    public static final int DEFAULT_TIMEOUT = 30;
    private final String baseUrl;
    int retries, backoff;

    /** Creates a client for {@code baseUrl}. */
    public HttpClient(String baseUrl) {
        this.baseUrl = requireNonNull(baseUrl);
    }

    /**
     * Sends a request.
     * @param request what to send
     */
    @Override
    public Response send(Request request) throws IOException {
        return send(request, DEFAULT_TIMEOUT);
    }

    public Response send(Request request, int timeout, String... headers) throws IOException {
        return null;
    }

    private static <T> List<T> copy(final List<T> items) {
        return new ArrayList<>(items);
    }

    public void close() {}

    /** A request builder. */
    public static final class Builder {
        private String url;

        Builder url(String url) {
            this.url = url;
            return this;
        }
    }

    public interface Listener {
        void onResponse(Response response);
    }

    enum Method { GET, POST }

    public record Header(String name, String value) {}
}
"#;

#[test]
fn java_golden() {
    let file = extract(
        Language::Java,
        "src/main/java/com/example/http/HttpClient.java",
        JAVA,
    );
    assert_eq!(file.module, "com.example.http");
    let c = "com.example.http.HttpClient";
    assert_outline(
        &file,
        &[
            (c, Class, 13, 60, true),
            (
                "com.example.http.HttpClient.DEFAULT_TIMEOUT",
                Field,
                15,
                15,
                true,
            ),
            ("com.example.http.HttpClient.baseUrl", Field, 16, 16, false),
            ("com.example.http.HttpClient.retries", Field, 17, 17, false),
            ("com.example.http.HttpClient.backoff", Field, 17, 17, false),
            (
                "com.example.http.HttpClient.HttpClient",
                Method,
                20,
                22,
                true,
            ),
            ("com.example.http.HttpClient.send", Method, 29, 31, true),
            ("com.example.http.HttpClient.send", Method, 33, 35, true),
            ("com.example.http.HttpClient.copy", Method, 37, 39, false),
            ("com.example.http.HttpClient.close", Method, 41, 41, true),
            ("com.example.http.HttpClient.Builder", Class, 44, 51, true),
            (
                "com.example.http.HttpClient.Builder.url",
                Field,
                45,
                45,
                false,
            ),
            (
                "com.example.http.HttpClient.Builder.url",
                Method,
                47,
                50,
                false,
            ),
            (
                "com.example.http.HttpClient.Listener",
                Interface,
                53,
                55,
                true,
            ),
            (
                "com.example.http.HttpClient.Listener.onResponse",
                Method,
                54,
                54,
                true,
            ),
            ("com.example.http.HttpClient.Method", Enum, 57, 57, false),
            (
                "com.example.http.HttpClient.Method.GET",
                Constant,
                57,
                57,
                false,
            ),
            (
                "com.example.http.HttpClient.Method.POST",
                Constant,
                57,
                57,
                false,
            ),
            ("com.example.http.HttpClient.Header", Struct, 59, 59, true),
            (
                "com.example.http.HttpClient.Header.name",
                Field,
                59,
                59,
                true,
            ),
            (
                "com.example.http.HttpClient.Header.value",
                Field,
                59,
                59,
                true,
            ),
        ],
    );
    let class = symbol(&file, c, 0);
    assert_eq!(class.parent.as_deref(), Some("com.example.http"));
    assert_eq!(
        class.signature,
        "public class HttpClient implements AutoCloseable"
    );
    assert_eq!(
        class.doc.as_deref(),
        Some("Sends HTTP requests.\n\n<p>Thread-safe.")
    );
    let timeout = symbol(&file, "com.example.http.HttpClient.DEFAULT_TIMEOUT", 0);
    assert_eq!(
        timeout.signature,
        "public static final int DEFAULT_TIMEOUT = 30"
    );
    assert_eq!(timeout.doc.as_deref(), Some("Default timeout in seconds."));

    let constructor = symbol(&file, "com.example.http.HttpClient.HttpClient", 0);
    assert_eq!(constructor.signature, "public HttpClient(String baseUrl)");
    assert_eq!(constructor.params, vec![plain("baseUrl", Some("String"))]);
    assert_eq!(constructor.returns, None);
    assert_eq!(
        constructor.doc.as_deref(),
        Some("Creates a client for {@code baseUrl}.")
    );

    let send = symbol(&file, "com.example.http.HttpClient.send", 0);
    assert_eq!(
        send.signature,
        "public Response send(Request request) throws IOException"
    );
    assert_eq!(send.params, vec![plain("request", Some("Request"))]);
    assert_eq!(send.returns.as_deref(), Some("Response"));
    assert_eq!(
        send.doc.as_deref(),
        Some("Sends a request.\n@param request what to send")
    );
    let send_more = symbol(&file, "com.example.http.HttpClient.send", 1);
    assert_eq!(
        send_more.signature,
        "public Response send(Request request, int timeout, String... headers) throws IOException"
    );
    assert_eq!(
        send_more.params,
        vec![
            plain("request", Some("Request")),
            plain("timeout", Some("int")),
            param(
                "headers",
                Some("String"),
                None,
                ParamKind::VarPositional,
                true
            ),
        ]
    );
    assert_eq!(send_more.doc, None);
    let copy = symbol(&file, "com.example.http.HttpClient.copy", 0);
    assert_eq!(
        copy.signature,
        "private static <T> List<T> copy(final List<T> items)"
    );
    assert_eq!(copy.params, vec![plain("items", Some("List<T>"))]);
    assert_eq!(copy.returns.as_deref(), Some("List<T>"));
    assert_eq!(
        symbol(&file, "com.example.http.HttpClient.close", 0)
            .returns
            .as_deref(),
        Some("void")
    );
    assert_eq!(
        symbol(&file, "com.example.http.HttpClient.Header", 0).signature,
        "public record Header(String name, String value)"
    );

    assert_eq!(
        file.imports,
        vec![
            import("java.io", Some("IOException"), None, 3),
            import("java.util", Some("*"), None, 4),
            import("java.util.Objects", Some("requireNonNull"), None, 5),
        ]
    );
}

#[test]
fn module_paths_follow_each_language_rule() {
    for (path, module) in [
        ("requests/sessions.py", "requests.sessions"),
        ("src/pkg/__init__.py", "pkg"),
        ("lib/pkg/util.pyi", "pkg.util"),
        ("__init__.py", ""),
        ("setup.py", "setup"),
    ] {
        assert_eq!(python::module_path(path), module, "{path}");
    }
    for (path, module) in [
        ("tokio/src/sync/mutex.rs", "tokio.sync.mutex"),
        ("src/lib.rs", ""),
        ("src/main.rs", ""),
        ("src/a/mod.rs", "a"),
        ("src/a/b.rs", "a.b"),
        ("crates/my-crate/src/lib.rs", "my_crate"),
        ("crates/my-crate/src/bin/tool.rs", "my_crate.bin.tool"),
        ("tests/it.rs", "tests.it"),
    ] {
        assert_eq!(rust::module_path(path), module, "{path}");
    }
    for (path, module) in [
        ("src/utils/stream.ts", "utils.stream"),
        ("src/index.ts", ""),
        ("lib/events/index.js", "events"),
        ("packages/ui/Button.tsx", "packages.ui.Button"),
        ("types/api.d.ts", "types.api"),
        ("esm/main.mjs", "esm.main"),
    ] {
        assert_eq!(javascript::module_path(path), module, "{path}");
    }
    // Go and Java qualify by the package the file declares, wherever it is.
    assert_eq!(
        extract(Language::Go, "a/b/c.go", "package http\n").module,
        "http"
    );
    assert_eq!(
        extract(Language::Java, "x/Y.java", "package a.b;\nclass Y {}\n").module,
        "a.b"
    );
    assert_eq!(extract(Language::Java, "Y.java", "class Y {}\n").module, "");
}

#[test]
fn files_without_a_module_path_qualify_by_bare_names() {
    let file = extract(
        Language::Rust,
        "src/lib.rs",
        "//! The crate.\npub fn run() {}\n",
    );
    assert_eq!(file.module, "");
    let module = &file.symbols[0];
    assert_eq!(
        (
            module.kind,
            module.name.as_str(),
            module.qualified_name.as_str()
        ),
        (Module, "lib", "")
    );
    assert_eq!(module.doc.as_deref(), Some("The crate."));
    let run = &file.symbols[1];
    assert_eq!(
        (run.qualified_name.as_str(), run.parent.as_deref()),
        ("run", None)
    );

    let file = extract(
        Language::Python,
        "src/__init__.py",
        "def main():\n    pass\n",
    );
    assert_eq!(file.symbols[0].name, "__init__");
    assert_eq!(file.symbols[1].qualified_name, "main");
}

#[test]
fn broken_and_odd_input_never_panics() {
    let long_line = "x".repeat(100_000);
    let deep_nesting = format!("{}{}", "(".repeat(5_000), ")".repeat(5_000));
    let deep_blocks = "{".repeat(5_000);
    let deep_use = format!("use {};", "a::{".repeat(5_000));
    let deep_pointer = format!("package p\nfunc (r {}T) M() {{}}\n", "*".repeat(5_000));
    let deep_classes: String = (0..200)
        .map(|depth| format!("{}class C{depth}:\n", "    ".repeat(depth)))
        .collect();
    let inputs: Vec<&str> = vec![
        "",
        "\n\n\n",
        "}{)(*&^%$#@!<>?:\"'`\\",
        "\u{feff}\u{0}\u{1}\u{7f}",
        "def f(\nclass\nfn x( -> {\nfunc (\npublic class {",
        "class Ünïcödé:\n    def naïve(self, café='☕'):\n        \"\"\"日本語の説明。\"\"\"\n",
        "pub struct 名前 { 値: u8 }\n/// ドキュメント\nfn 関数(引数: &str) -> 名前 {",
        "export function ƒ(ü: string = 'é'): void;\nclass { constructor(",
        "package 包\nfunc (r *) 函数(",
        "package p;\n/** Ünïcödé */\npublic class Ω { void m(String... ) {",
        "impl<T> for {} trait { fn } mod { mod { mod {",
        "interface X { a?: ; m(: void; }\nenum { = }\nnamespace { export",
        "type X struct { A, }\ntype ( Y interface { M( } )\nconst ( A = )",
        &long_line,
        &deep_nesting,
        &deep_blocks,
        &deep_use,
        &deep_pointer,
        &deep_classes,
    ];
    let targets = [
        (Language::Python, "pkg/mod.py"),
        (Language::Rust, "src/lib.rs"),
        (Language::JavaScript, "src/a.js"),
        (Language::TypeScript, "src/a.ts"),
        (Language::TypeScript, "src/a.tsx"),
        (Language::Go, "a.go"),
        (Language::Java, "A.java"),
    ];
    for (language, path) in targets {
        for input in &inputs {
            let file = extract(language, path, input);
            let lines = text::line_count(input);
            for symbol in &file.symbols {
                assert!(
                    symbol.start_line >= 1
                        && symbol.start_line <= symbol.end_line
                        && symbol.end_line <= lines,
                    "{language:?} {symbol:?} in {lines} lines"
                );
            }
            for import in &file.imports {
                assert!(
                    import.line >= 1 && import.line <= lines,
                    "{language:?} {import:?}"
                );
            }
        }
    }
}

#[test]
fn partial_files_still_yield_their_well_formed_definitions() {
    let source = "def ok(a):\n    return a\n\n\
                  def broken(:\n    pass\n\n\
                  class Fine:\n    def m(self): pass\n";
    let file = extract(Language::Python, "m.py", source);
    let names: Vec<&str> = file
        .symbols
        .iter()
        .map(|s| s.qualified_name.as_str())
        .collect();
    assert!(names.contains(&"m.ok"), "{names:?}");
    assert!(names.contains(&"m.Fine.m"), "{names:?}");
}

#[test]
fn text_helpers() {
    assert_eq!(
        text::collapse_whitespace("  def f(\n    a,\n    b,\n)  "),
        "def f(a, b,)"
    );
    assert_eq!(text::signature("fn f() -> T {"), "fn f() -> T");
    assert_eq!(text::signature("const f = (x) =>"), "const f = (x)");
    assert_eq!(text::cap("αβγδ".to_string(), 2), "αβ…");
    assert_eq!(
        text::docstring("r'''\n    Line one.\n      Indented.\n    '''").as_deref(),
        Some("Line one.\n  Indented.")
    );
    assert_eq!(
        text::block_comment_doc("/**\n * A.\n *\n * B.\n */").as_deref(),
        Some("A.\n\nB.")
    );
    assert_eq!(text::block_comment_doc("/** */"), None);
    assert_eq!(text::line_count(""), 1);
    assert_eq!(text::line_count("a\nb\n"), 2);
    assert_eq!(text::line_count("a\nb"), 2);
}

/// Prints how many 2,000-function files per second each extractor handles (run with
/// `cargo test --release -- --ignored --nocapture throughput`).
#[test]
#[ignore]
fn throughput() {
    const FUNCTIONS: usize = 2_000;
    // One function per language; `N` is replaced by the function's number.
    let templates = [
        (
            Language::Python,
            "pkg/gen.py",
            "def fN(a, b: int = 1, *args, **kw) -> int:\n    'Doc.'\n    return a + b\n\n",
        ),
        (
            Language::Rust,
            "src/gen.rs",
            "/// Doc.\npub fn fN(a: u32, b: &str) -> u32 {\n    a + b.len() as u32\n}\n\n",
        ),
        (
            Language::JavaScript,
            "src/gen.js",
            "/** Doc. */\nexport function fN(a, b = 1, ...rest) {\n  return a + b;\n}\n\n",
        ),
        (
            Language::TypeScript,
            "src/gen.ts",
            "/** Doc. */\nexport function fN(a: number, b?: string): number {\n  return a;\n}\n\n",
        ),
        (
            Language::Go,
            "gen.go",
            "// FN does.\nfunc FN(a, b int) (int, error) {\n\treturn a + b, nil\n}\n\n",
        ),
        (
            Language::Java,
            "Gen.java",
            "  /** Doc. */\n  public int fN(int a, String... b) {\n    return a;\n  }\n\n",
        ),
    ];
    for (language, path, template) in templates {
        let body: String = (0..FUNCTIONS)
            .map(|i| template.replace('N', &i.to_string()))
            .collect();
        let source = match language {
            Language::Go => format!("package gen\n\n{body}"),
            Language::Java => format!("class Gen {{\n{body}}}\n"),
            _ => body,
        };
        let runs = 5;
        let started = std::time::Instant::now();
        let mut symbols = 0;
        for _ in 0..runs {
            symbols = extract(language, path, &source).symbols.len();
        }
        let seconds = started.elapsed().as_secs_f64();
        println!(
            "{language:?}: {:.1} files/s ({} KiB, {symbols} symbols, {:.1} ms/file)",
            f64::from(runs) / seconds,
            source.len() / 1024,
            seconds * 1000.0 / f64::from(runs)
        );
    }
}
