"""jobrunner's Python helper: one warm interpreter of a worker slot, for `kind: python` tasks.

It is compiled into the jobrunner binary and started as `python3 -c <this file> MODE`:

serve  by a worker (worker/python_pool.h), in a process group of its own, with fd 0 /dev/null,
       fds 1 and 2 the slot's scratch files and fds 3 (requests) and 4 (replies) pipes. It runs
       the calls it is sent, one after another, until fd 3 ends.
check  on rank 0 before a run (and by --check): reads {"path", "setup", "calls"} as JSON on
       stdin, imports each call's module and binds its arguments to the function's signature
       without calling it, and prints a JSON list of what is wrong.

Frames in both directions: u32 payload length (little-endian), u8 type, payload. To the helper:
'I' init (JSON, first), 'C' calls (a JSON list of [seq, name, [function, args, kwargs], context]).
From it: 'R' ready (JSON, once, after `setup`), then one 'D' per call, in the order sent, each
written before the next call starts: so the first call without a reply is the one running.
"""

import os
import sys


def _resolver(path_entries):
    import importlib

    class NotFound(Exception):
        """The function named cannot be had: no such module, attribute, or not callable.
        (Not a LookupError: a KeyError raised by the module's own code is one.)"""

    cache = {}

    def resolve(spec):
        fn = cache.get(spec)
        if fn is not None:
            return fn
        module, _, name = spec.partition(":")
        try:
            obj = importlib.import_module(module)
        except ModuleNotFoundError as e:
            # A module that the user's module imports is the user's module's problem: its own
            # traceback says where.
            if e.name is None or (e.name != module and not module.startswith(e.name + ".")):
                raise
            raise NotFound(f"no module named '{module}' (python.path: {path_entries})") from None
        for part in name.split("."):
            if not hasattr(obj, part):
                raise NotFound(f"module '{module}' has no attribute '{name}'")
            obj = getattr(obj, part)
        if not callable(obj):
            raise NotFound(f"{spec} is a {type(obj).__name__}, not a function")
        cache[spec] = obj
        return obj

    return resolve, NotFound


def _prepare_path(path_entries):
    # `-c` puts the working directory first on sys.path: a json.py there would shadow json.
    if sys.path and sys.path[0] in ("", os.getcwd()):
        del sys.path[0]
    for entry in reversed(path_entries):
        sys.path.insert(0, entry)


def _serve():
    import faulthandler
    import json
    import pickle
    import signal
    import struct
    import time
    import traceback

    RD, WR = 3, 4
    # A process the function starts must not hold the pipes: the worker would not see EOF.
    os.set_inheritable(RD, False)
    os.set_inheritable(WR, False)
    rd = os.fdopen(RD, "rb", buffering=1 << 16)
    header = struct.Struct("<IB")
    # 'D': seq, status, flags, start and end (unix ns), stdout and stderr bytes, the copy each of
    # their logs went to (see move), then the body.
    done = struct.Struct("<IBQBBQQQQBB")
    done_size = done.size - header.size
    dumps = json.JSONEncoder(allow_nan=False, separators=(",", ":")).encode
    loads = json.loads
    lseek, SEEK_CUR, now_ns = os.lseek, os.SEEK_CUR, time.time_ns
    OK, PICKLED, RAISED, NOT_FOUND, BAD_ARGUMENTS, UNSERIALISABLE, CANNOT_START = range(7)
    STDOUT_TRUNCATED, STDERR_TRUNCATED = 1, 2
    MAX_LOG_COPIES, LOG_NOT_KEPT = 100, 255  # rundir/run_dir.h: kMaxLogCopies; python_pool.cc
    MAX_JSON_RESULT = 1 << 20  # larger results go to the data file, as the journal wants

    def write(data):
        view = memoryview(data)
        while view:
            view = view[os.write(WR, view):]

    def receive():
        head = rd.read(5)
        if len(head) < 5:
            return None, None
        size, kind = header.unpack(head)
        body = rd.read(size)
        return (kind, body) if len(body) == size else (None, None)

    kind, body = receive()
    if kind != ord("I"):
        return 2
    init = loads(body)
    scratch = init["scratch"]  # the names in logs/ that fds 1 and 2 are open on
    data = init["data"]
    # Opened once; the logs are made through it, never through a link planted in logs/ later.
    logs = os.open(init["logs"], os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    max_output = init.get("max_output") or 0
    faulthandler.enable()  # a crash's Python stack goes to fd 2: the running task's log
    faulthandler.register(signal.SIGUSR2, all_threads=True)  # the worker asks before a timeout
    # printf in a C extension would sit in libc's buffer past the call: no buffering there.
    try:
        import ctypes

        libc = ctypes.CDLL(None)
        for stream in ("stdout", "stderr"):
            libc.setvbuf(ctypes.c_void_p.in_dll(libc, stream), None, 2, 0)  # _IONBF
    except Exception:
        pass
    # The user's directories come first on sys.path only now that the modules this program
    # needs are imported: a pickle.py of theirs cannot stand in for the real one.
    _prepare_path(init["path"])
    resolve, NotFound = _resolver(init["path"])

    def error_body(e):
        return dumps({"type": type(e).__name__, "message": str(e)}).encode()

    setup_error = None
    if init.get("setup"):
        try:
            resolve(init["setup"])()
        except BaseException as e:
            text = "".join(traceback.format_exception(type(e), e, e.__traceback__))
            sys.stderr.write(f"jobrunner: python setup {init['setup']} raised:\n{text}")
            setup_error = {"type": type(e).__name__, "message": str(e)}
    for stream in (sys.stdout, sys.stderr):
        if stream is not None:
            stream.flush()
    ready = dumps({"pid": os.getpid(), "python": sys.version.split()[0], "error": setup_error})
    write(header.pack(len(ready), ord("R")) + ready.encode())
    if setup_error:
        return 0

    def move(fd, src, name, size):
        # The scratch file becomes the task's log, no copy: a hard link in logs/ under the first
        # free of name, name.2, ... name.100 (a link fails on whatever is there, a planted link
        # included: nothing is replaced or written through), then the scratch name goes and fd
        # gets a fresh scratch file. Returns the flags and which copy took it (0 for name).
        flags = 0
        if max_output and size > max_output:
            os.ftruncate(fd, max_output)
            os.pwrite(fd, f"\n[jobrunner: output truncated after {max_output} bytes; "
                          f"{size - max_output} bytes dropped]\n".encode(), max_output)
            flags = STDOUT_TRUNCATED if fd == 1 else STDERR_TRUNCATED
        copy = 0
        while True:
            try:
                os.link(src, f"{name}.{copy}" if copy else name, src_dir_fd=logs,
                        dst_dir_fd=logs, follow_symlinks=False)
                break
            except FileExistsError:
                copy = 2 if copy == 0 else copy + 1
            except OSError:
                copy = LOG_NOT_KEPT
            if copy > MAX_LOG_COPIES:
                copy = LOG_NOT_KEPT
                break
        os.unlink(src, dir_fd=logs)
        new = os.open(src, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                      0o644, dir_fd=logs)
        os.dup2(new, fd)
        os.close(new)
        return flags, copy

    def pickled(value, path, why):
        partial = path + ".partial"
        try:
            with open(partial, "wb") as f:
                pickle.dump(value, f, protocol=pickle.HIGHEST_PROTOCOL)
            os.rename(partial, path)
            return PICKLED, path.encode()
        except Exception as e:
            try:
                os.unlink(partial)
            except OSError:
                pass
            e = TypeError(f"the result ({type(value).__qualname__}) is {why}, and cannot be "
                          f"pickled either: {e}")
            sys.stderr.write(f"jobrunner: {e}\n")
            return UNSERIALISABLE, error_body(e)

    def encode(value, data_path):
        t = type(value)
        if value is None:
            return OK, b"null"
        if t is int or t is str or t is bool:
            text = dumps(value)
            if len(text) <= MAX_JSON_RESULT:
                return OK, text.encode()
            return pickled(value, data_path, "too large for results.jsonl")
        if t.__module__ == "numpy" and getattr(value, "shape", None) == ():
            return encode(value.item(), data_path)  # a NumPy scalar: a plain number
        try:
            text = dumps(value)
            # JSON would silently change tuples into lists and int keys into strings.
            if t is float or loads(text) == value:
                if len(text) <= MAX_JSON_RESULT:
                    return OK, text.encode()
                return pickled(value, data_path, "too large for results.jsonl")
        except (TypeError, ValueError, RecursionError):
            pass
        return pickled(value, data_path, "not JSON")

    environ = os.environ
    start_dir = os.getcwd()
    context = None  # of the last call: what it changed in the process
    saved_env = {}  # the values the last call's env replaced (None: unset before)

    def apply(new):
        nonlocal context
        for name, value in saved_env.items():
            if value is None:
                environ.pop(name, None)
            else:
                environ[name] = value
        saved_env.clear()
        cwd, env = start_dir, None
        if new is not None:
            cwd = new.get("cwd") or start_dir
            env = new.get("env")
        if os.getcwd() != cwd:
            os.chdir(cwd)
        if env:
            for name, value in env.items():
                saved_env[name] = environ.get(name)
                environ[name] = value
        context = new

    def call(function, args, kwargs, name):
        try:
            fn = resolve(function)
        except NotFound as e:
            sys.stderr.write(f"jobrunner: {e}\n")
            return NOT_FOUND, error_body(e)
        except BaseException as e:  # the module's own code raised while importing
            sys.stderr.write(f"jobrunner: importing {function.partition(':')[0]} raised:\n"
                             f"{traceback.format_exc()}")
            return NOT_FOUND, error_body(e)
        try:
            value = fn(*args, **kwargs)
        except BaseException as e:  # SystemExit too: it must not end the helper
            tb = e.__traceback__.tb_next
            if isinstance(e, TypeError) and tb is None:
                # Raised by the call itself, binding the arguments, not inside the function.
                sys.stderr.write(f"jobrunner: {function}: {e}\n")
                return BAD_ARGUMENTS, error_body(e)
            sys.stderr.write("".join(traceback.format_exception(type(e), e, tb)))
            return RAISED, error_body(e)
        return encode(value, f"{data}/{name}.pickle")

    while True:
        kind, body = receive()
        if kind is None:  # the worker closed the pipe: it is done with this interpreter
            return 0
        for seq, name, (function, args, kwargs), ctx in loads(body):
            start = now_ns()
            try:
                if ctx is not None or context is not None:
                    apply(ctx)
            except OSError as e:  # the task's cwd is missing, say
                sys.stderr.write(f"jobrunner: cannot prepare the call: {e}\n")
                status, payload = CANNOT_START, error_body(e)
            else:
                status, payload = call(function, args, kwargs, name)
            out = sys.stdout
            if out is not None:
                out.flush()
            err = sys.stderr
            if err is not None:
                err.flush()
            out_bytes = lseek(1, 0, SEEK_CUR)
            err_bytes = lseek(2, 0, SEEK_CUR)
            out_flag = err_flag = out_copy = err_copy = 0
            if out_bytes:
                out_flag, out_copy = move(1, scratch[0], f"{name}.out", out_bytes)
            if err_bytes:
                err_flag, err_copy = move(2, scratch[1], f"{name}.err", err_bytes)
            write(done.pack(len(payload) + done_size, 68, seq, status, out_flag | err_flag, start,
                            now_ns(), out_bytes, err_bytes, out_copy, err_copy) + payload)


def _check():
    import inspect
    import json

    request = json.load(sys.stdin)
    _prepare_path(request["path"])
    resolve, NotFound = _resolver(request["path"])
    problems = []

    def function_of(spec, task, what):
        module, colon, name = spec.partition(":")
        if not colon or not module or not name:
            problems.append({"task": task, "what": what,
                             "message": f"'{spec}' is not of the form module:function"})
            return None
        try:
            return resolve(spec)
        except NotFound as e:
            problems.append({"task": task, "what": what, "message": str(e)})
        except BaseException as e:
            problems.append({"task": task, "what": what,
                             "message": f"importing {module} raised {type(e).__name__}: {e}"})
        return None

    if request.get("setup"):
        function_of(request["setup"], None, "setup")
    for item in request["calls"]:
        function, args, kwargs = item["call"]
        fn = function_of(function, item["task"], "function")
        if fn is None:
            continue
        try:
            signature = inspect.signature(fn)
        except (TypeError, ValueError):
            continue  # some built-in functions do not say
        try:
            signature.bind(*args, **kwargs)
        except TypeError as e:
            problems.append({"task": item["task"], "what": "arguments",
                             "message": f"{function}{signature}: {e}"})
    json.dump(problems, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(_serve() if sys.argv[1:] == ["serve"] else _check())
