"""The C files of a lowered program: ``model.c``, ``model.h``, ``main.c`` and a ``Makefile``.

``model.c`` holds the constant data (weights as ``static const`` arrays, parameter structs) and one
small ``static`` function per step calling its kernels with pointers into the arena, the input
and the output buffers; ``qcc_<model>_run`` calls the steps in order, ``qcc_<model>_run_step``
runs one of them (the verifier uses it to find the first node that differs from the reference).
Nothing in these files is an IR name pasted verbatim: identifiers and comments come from
``cnames``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

from qcc.arith.fixedpoint import activation_range
from qcc.backends.c.build import STANDALONE_FLAGS
from qcc.backends.c.carrays import ByteArray, array_definition, float_literal, render_definition
from qcc.backends.c.cnames import comment_text
from qcc.backends.c.footprint import ILP32, LP64, ModelFootprint
from qcc.backends.c.steps import Arg, BoundaryIO, CProgram, Step
from qcc.ir.core import Value
from qcc.ir.types import DType

HEADER = "model.h"


def _macro(program: CProgram, what: str) -> str:
    return f"{program.prefix.upper()}_{what}"


def io_parameters(program: CProgram) -> list[tuple[str, BoundaryIO, bool]]:
    """(C parameter name, io, is_input) for run()'s tensor parameters, inputs first."""
    single_in, single_out = len(program.inputs) == 1, len(program.outputs) == 1
    params = [("in" if single_in else f"in{k}", io, True) for k, io in enumerate(program.inputs)]
    params += [("out" if single_out else f"out{k}", io, False) for k, io in enumerate(program.outputs)]
    return params


def _param_list(program: CProgram) -> str:
    return ", ".join(f"const {io.ctype} *{name}" if is_in else f"{io.ctype} *{name}" for name, io, is_in in io_parameters(program))


def prototypes(program: CProgram) -> list[str]:
    """The declarations model.h exports (also the cffi cdef)."""
    p = program.prefix
    params = _param_list(program)
    lines = [
        f"int {p}_run({params}, void *arena);",
        f"int {p}_run_step(int32_t step, {params}, void *arena);",
        f"size_t {p}_arena_size(void);",
    ]
    for k, io in enumerate(program.inputs):
        if io.scale is not None:
            lines.append(f"int32_t {p}_quantize_input{k}(const float *x, {io.ctype} *q);")
    for k, io in enumerate(program.outputs):
        if io.scale is not None:
            lines.append(f"void {p}_dequantize_output{k}(const {io.ctype} *q, float *y);")
    return lines


class _Pointers:
    """C pointer expressions for values, from the memory plan."""

    def __init__(self, program: CProgram) -> None:
        self.program = program
        self.plan = program.plan
        params = io_parameters(program)
        self.names = {("input" if is_in else "output", k): name
                      for k, (name, _, is_in) in enumerate(p for p in params if p[2])} | {
                     ("output", k): name for k, (name, _, _) in enumerate(p for p in params if not p[2])}
        self.const_arrays: dict[int, str] = {}
        self.const_definitions: list[str | ByteArray] = []

    def value(self, v: Value, writable: bool) -> str:
        loc = self.plan.location(v)
        ctype = {1: "int8_t", 2: "int16_t", 4: "int32_t", 8: "int64_t"}[v.type.dtype.numpy.itemsize]
        if loc.kind in ("input", "output"):  # a run() parameter (or a view of one)
            return self.names[(loc.kind, loc.index)]
        if loc.kind == "const":
            if id(v) not in self.const_arrays:
                definition, pointer = array_definition(f"c{len(self.const_arrays)}", v.const_array, comment_text(f"constant {v.name}"))
                self.const_definitions.append(definition)
                self.const_arrays[id(v)] = pointer
            return self.const_arrays[id(v)]
        if writable:
            return f"({ctype} *)(void *)(a + {loc.offset})"
        return f"(const {ctype} *)(const void *)(a + {loc.offset})"

    def arg(self, step: Step, arg: Arg) -> str:
        if arg.kind in ("read", "write"):
            assert arg.value is not None  # StepBuilder makes read/write args from values
            return self.value(arg.value, arg.kind == "write")
        if arg.kind == "scratch":
            return f"({arg.text or 'int8_t'} *)(void *)(a + {self.plan.scratch[step.index]})"
        return arg.text


def _step_function(program: CProgram, step: Step, pointers: _Pointers) -> str:
    unused = " ".join(f"(void){name};" for name, _, _ in io_parameters(program)) + " (void)a;"
    lines = [f"static void step_{step.index}({_param_list(program)}, uint8_t *a)", "{", f"    {unused}"]
    if step.alias:
        lines.append("    /* a view of its operand: nothing to compute */")
    for call in step.calls:
        args = ([f"&{call.params}"] if call.params else []) + [pointers.arg(step, a) for a in call.args]
        lines.append(f"    {call.function}({', '.join(args)});")
    lines.append("}")
    return "\n".join(lines)


def model_c(program: CProgram) -> str:
    p = program.prefix
    plan = program.plan
    pointers = _Pointers(program)
    step_blocks = []
    for step in program.steps:
        body = _step_function(program, step, pointers)
        where = comment_text(step.label)
        definitions = [render_definition(d, program.constant_form) for d in step.definitions]
        step_blocks.append(f"/* ---- step {step.index}: {where} ---- */\n" + "\n".join(definitions + [body]))
    names = [name for name, _, _ in io_parameters(program)]
    steps_macro = _macro(program, "STEPS")
    run_body = "\n".join(f"    step_{s.index}({', '.join(names)}, a);" for s in program.steps)
    table = ", ".join(f"step_{s.index}" for s in program.steps)
    ptypes = ", ".join(["const " + io.ctype + " *" if is_in else io.ctype + " *" for _, io, is_in in io_parameters(program)])
    helpers = []
    for k, io in enumerate(program.inputs):
        if io.scale is not None:
            helpers.append(_quantize_helper(p, k, io))
    for k, io in enumerate(program.outputs):
        if io.scale is not None:
            helpers.append(_dequantize_helper(p, k, io))
    parts = [
        f"/*\n * model.c - generated by qcc for model '{program.name}'. Do not edit.\n"
        f" * {len(program.steps)} steps; arena {plan.arena_size} bytes (lower bound {plan.lower_bound}).\n"
        " * Compile with the qcc kernel sources listed in the Makefile; C99, no allocation.\n */",
        "#include <stddef.h>\n#include <stdint.h>\n\n#include \"qcc_kernels.h\"\n#include \"model.h\"\n\n"
        "/* Weights are string literals (compilers read them far faster than initializer lists) of at\n"
        " * most 65,520 bytes (longer weights are split into parts: MSVC caps a literal at 64 KB), or\n"
        " * initializer lists with qcc compile --c-constants=arrays. C99 allows literals longer than the\n"
        " * 4095 characters every compiler must support, and GCC/Clang's -pedantic would warn about them. */\n"
        "#if defined(__GNUC__)\n#pragma GCC diagnostic ignored \"-Woverlength-strings\"\n#endif",
    ]
    blocks = "\n\n".join(step_blocks)
    if pointers.const_definitions:
        definitions = [render_definition(d, program.constant_form) for d in pointers.const_definitions]
        parts.append("/* ---- constant tensors read as data ---- */\n" + "\n".join(definitions))
    parts.append(blocks)
    parts.append(
        f"int {p}_run({_param_list(program)}, void *arena)\n{{\n    uint8_t *a = (uint8_t *)arena;\n{run_body}\n    return 0;\n}}"
    )
    # a table of one entry is folded away by optimizing compilers (flash would count a constant
    # the binary does not hold): a single step is called directly
    if len(program.steps) > 1:
        table_line = f"    static void (*const steps[{len(program.steps)}])({ptypes}, uint8_t *) = {{{table}}};\n"
        callee = "steps[step]"
    else:
        table_line, callee = "", "step_0"
    parts.append(
        f"int {p}_run_step(int32_t step, {_param_list(program)}, void *arena)\n{{\n{table_line}"
        f"    if (step < 0 || step >= {steps_macro}) {{\n        return -1;\n    }}\n"
        f"    {callee}({', '.join(names)}, (uint8_t *)arena);\n    return 0;\n}}"
    )
    parts.append(f"size_t {p}_arena_size(void)\n{{\n    return {_macro(program, 'ARENA_SIZE')};\n}}")
    parts.extend(helpers)
    return "\n\n".join(parts) + "\n"


def _quantize_helper(p: str, k: int, io: BoundaryIO) -> str:
    """The float -> integer helper of input ``k``; an input on a grid narrower than its int8
    storage clamps to that grid (docs/arithmetic.md §3.19)."""
    head = f"int32_t {p}_quantize_input{k}(const float *x, {io.ctype} *q)\n{{\n"
    args = f"x, q, {io.count}, {float_literal(io.per_tensor_scale())}, {io.zero_point}"
    quant = io.value.type.quant
    if quant is not None and quant.bits < io.dtype.bits:
        qmin, qmax = activation_range(quant.bits)
        return head + f"    return qcc_quantize_f32_{io.suffix}_range({args}, {qmin}, {qmax});\n}}"
    return head + f"    return qcc_quantize_f32_{io.suffix}({args});\n}}"


def _dequantize_helper(p: str, k: int, io: BoundaryIO) -> str:
    """The float helper of output k: one scale, or the per-index scales and zero points of a joined
    output (docs/arithmetic.md §3.17) as exported const arrays."""
    head = f"void {p}_dequantize_output{k}(const {io.ctype} *q, float *y)\n{{\n"
    if io.axis is None:
        return head + f"    qcc_dequantize_{io.suffix}_f32(q, y, {io.count}, {float_literal(io.per_tensor_scale())}, {io.zero_point});\n}}"
    scales, zero_points = io.scale, io.zero_point
    assert isinstance(scales, tuple) and isinstance(zero_points, tuple)
    outer, inner = math.prod(io.shape[: io.axis]), math.prod(io.shape[io.axis + 1 :])
    arrays = (
        f"const float {p}_output{k}_scale[{len(scales)}] = {{{', '.join(float_literal(v) for v in scales)}}};\n"
        f"const int32_t {p}_output{k}_zero_point[{len(zero_points)}] = {{{', '.join(str(z) for z in zero_points)}}};\n\n"
    )
    return arrays + head + (
        f"    qcc_dequantize_axis_{io.suffix}_f32(q, y, {outer}, {len(scales)}, {inner}, {p}_output{k}_scale, {p}_output{k}_zero_point);\n}}"
    )


def _io_comment(kind: str, k: int, io: BoundaryIO) -> str:
    if io.axis is not None:
        quant = f", per-axis along axis {io.axis}: {len(io.per_axis_scales())} scales and zero points, arrays declared below"
    else:
        quant = f", scale {io.scale!r}, zero point {io.zero_point}" if io.scale is not None else ""
    return comment_text(f"{kind} {k}: {io.float_name}, {io.ctype[:-2]} {list(io.shape)}{quant}")


def _footprint_lines(program: CProgram, footprint: ModelFootprint) -> list[str]:
    """model.h's flash and RAM figures (report.md states the method)."""
    flash = _macro(program, "FLASH_BYTES")
    lines = [
        "",
        "/* Footprint. Flash: every constant object of model.c (weights, biases, multipliers, shifts,",
        " * tables, parameter structs), object sizes, for 32-bit (ILP32) and 64-bit (LP64) pointers;",
        " * the kernels' code is not included. RAM: arena + input and output buffers + run()'s",
        " * worst-case stack, measured with the compiler named below (another compiler or -O differs). */",
        f"#define {flash}_ILP32 {footprint.flash.total(ILP32)}u",
        f"#define {flash}_LP64 {footprint.flash.total(LP64)}u",
        f"#if UINTPTR_MAX == 0xFFFFFFFFu\n#define {flash} {flash}_ILP32\n"
        f"#elif UINTPTR_MAX == 0xFFFFFFFFFFFFFFFFu\n#define {flash} {flash}_LP64\n#endif",
        f"#define {_macro(program, 'IO_BYTES')} {footprint.io}u /* input and output buffers */",
    ]
    stack = footprint.stack
    if stack is None:
        lines.append("/* stack: not measured (no GCC with -fcallgraph-info at compile time); no RAM figure */")
        return lines
    bound = "" if stack.bounded else " (a lower bound: a frame on the chain is dynamic)"
    compiler = re.sub(r"\s*\([^)]*\)", "", stack.compiler)  # '(Debian 12.2.0-14)' would turn into underscores
    lines.append(f"#define {_macro(program, 'STACK_BYTES')} {stack.bytes}u /* {comment_text(compiler + ', ' + ' '.join(stack.flags))}{bound} */")
    lines.append(f"#define {_macro(program, 'RAM_BYTES')} ({_macro(program, 'ARENA_SIZE')} + {_macro(program, 'IO_BYTES')} + {_macro(program, 'STACK_BYTES')})")
    return lines


def model_h(program: CProgram, footprint: ModelFootprint | None = None) -> str:
    guard = _macro(program, "MODEL_H")
    plan = program.plan
    lines = [
        f"/*\n * model.h - generated by qcc for model '{program.name}'. Do not edit.\n *",
        f" * {program.prefix}_run() runs the model on integer tensors: inputs and outputs are dense",
        " * row-major arrays; the arena is caller-provided scratch memory of ARENA_SIZE bytes, aligned",
        " * to 16 bytes, and may be reused between calls. The optional helpers convert the float",
        " * boundary (quantize: round half to even in float32; dequantize: (q - zp) * scale). An output",
        " * of C type int32_t is a layer's accumulator (the scheme's outputs=accumulator): never clipped",
        " * to an activation grid, dequantized with one scale per channel.\n */",
        f"#ifndef {guard}\n#define {guard}\n\n#include <stddef.h>\n#include <stdint.h>\n",
        f"#define {_macro(program, 'ARENA_SIZE')} {plan.arena_size}u",
        f"#define {_macro(program, 'ARENA_LOWER_BOUND')} {plan.lower_bound}u /* largest set of simultaneously live tensors */",
        f"#define {_macro(program, 'STEPS')} {len(program.steps)}",
    ]
    for k, io in enumerate(program.inputs):
        lines.append(f"#define {_macro(program, f'INPUT{k}_SIZE')} {io.count} /* {_io_comment('input', k, io)} */")
    for k, io in enumerate(program.outputs):
        lines.append(f"#define {_macro(program, f'OUTPUT{k}_SIZE')} {io.count} /* {_io_comment('output', k, io)} */")
    for k, io in enumerate(program.outputs):
        if io.axis is not None:
            why = "an int32 accumulator, one scale per channel" if io.dtype is DType.I32 else "joins differently-ranged parts"
            lines.append(f"#define {_macro(program, f'OUTPUT{k}_AXIS')} {io.axis} /* output {k} {why}: per-index parameters */")
    if footprint is not None:
        lines.extend(_footprint_lines(program, footprint))
    lines.append("")
    lines.extend(prototypes(program))
    for k, io in enumerate(program.outputs):
        if io.axis is not None:
            n = len(io.per_axis_scales())
            lines.append(f"extern const float {program.prefix}_output{k}_scale[{n}];     /* real = scale[c] * (q - zero_point[c]), c = index along the axis */")
            lines.append(f"extern const int32_t {program.prefix}_output{k}_zero_point[{n}];")
    lines.append(f"\n#endif /* {guard} */\n")
    return "\n".join(lines)


def main_c(program: CProgram) -> str:
    """A standalone harness: reads raw input tensors from files, runs, writes raw outputs."""
    p = program.prefix
    params = io_parameters(program)
    n_in, n_out = len(program.inputs), len(program.outputs)
    floats = all(io.scale is not None for io in program.inputs + program.outputs)
    decls, reads, writes, frees, args = [], [], [], [], []
    for k, io in enumerate(program.inputs):
        decls.append(f"    {io.ctype} *in{k} = ({io.ctype} *)malloc(sizeof({io.ctype}) * {io.count});")
        args.append(f"in{k}")
        frees.append(f"in{k}")
        if floats:
            reads.append(
                f"    if (use_float) {{\n        float *f = (float *)malloc(sizeof(float) * {io.count});\n"
                f"        if (f == NULL || read_file(argv[first + {k}], f, sizeof(float) * {io.count}) != 0) {{\n"
                f"            free(f);\n            return 1;\n        }}\n"
                f"        {p}_quantize_input{k}(f, in{k});\n        free(f);\n"
                f"    }} else if (read_file(argv[first + {k}], in{k}, sizeof({io.ctype}) * {io.count}) != 0) {{\n        return 1;\n    }}"
            )
        else:
            reads.append(f"    if (read_file(argv[first + {k}], in{k}, sizeof({io.ctype}) * {io.count}) != 0) {{\n        return 1;\n    }}")
    for k, io in enumerate(program.outputs):
        decls.append(f"    {io.ctype} *out{k} = ({io.ctype} *)malloc(sizeof({io.ctype}) * {io.count});")
        args.append(f"out{k}")
        frees.append(f"out{k}")
        if floats:
            writes.append(
                f"    if (use_float) {{\n        float *f = (float *)malloc(sizeof(float) * {io.count});\n"
                f"        if (f == NULL) {{\n            return 1;\n        }}\n"
                f"        {p}_dequantize_output{k}(out{k}, f);\n"
                f"        if (write_file(argv[first + {n_in + k}], f, sizeof(float) * {io.count}) != 0) {{\n"
                f"            free(f);\n            return 1;\n        }}\n        free(f);\n"
                f"    }} else if (write_file(argv[first + {n_in + k}], out{k}, sizeof({io.ctype}) * {io.count}) != 0) {{\n        return 1;\n    }}"
            )
        else:
            writes.append(f"    if (write_file(argv[first + {n_in + k}], out{k}, sizeof({io.ctype}) * {io.count}) != 0) {{\n        return 1;\n    }}")
    del params
    checks = " || ".join(f"{a} == NULL" for a in args)
    usage_files = " ".join([f"IN{k}" for k in range(n_in)] + [f"OUT{k}" for k in range(n_out)])
    float_flag = " [-f]" if floats else ""
    float_doc = (
        " * With -f the files hold float32 and the generated quantize/dequantize helpers convert them.\n"
        if floats else ""
    )
    return f"""/*
 * main.c - standalone check of model '{program.name}' (generated by qcc):
 *     ./model{float_flag} {usage_files}
 * reads each input as raw {'/'.join(sorted({io.ctype for io in program.inputs}))} values (native byte order, the layout
 * run() takes), runs the model once and writes each output the same way.
{float_doc} */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"

/* The arena: static storage, aligned here to the 16 bytes model.h promises (malloc's blocks are
 * only 8-byte aligned on some C libraries, e.g. armhf glibc). */
static unsigned char arena_storage[{_macro(program, 'ARENA_SIZE')} + 15u];

static int read_file(const char *path, void *buf, size_t bytes)
{{
    FILE *f = fopen(path, "rb");
    size_t got;
    if (f == NULL) {{
        fprintf(stderr, "cannot open %s\\n", path);
        return 1;
    }}
    got = fread(buf, 1, bytes, f);
    fclose(f);
    if (got != bytes) {{
        fprintf(stderr, "%s: expected %lu bytes, read %lu\\n", path, (unsigned long)bytes, (unsigned long)got);
        return 1;
    }}
    return 0;
}}

static int write_file(const char *path, const void *buf, size_t bytes)
{{
    FILE *f = fopen(path, "wb");
    if (f == NULL || fwrite(buf, 1, bytes, f) != bytes) {{
        fprintf(stderr, "cannot write %s\\n", path);
        if (f != NULL) {{
            fclose(f);
        }}
        return 1;
    }}
    return fclose(f) != 0;
}}

int main(int argc, char **argv)
{{
    int first = 1, use_float = 0;
    void *arena = arena_storage + (16u - (size_t)((uintptr_t)arena_storage % 16u)) % 16u;
{chr(10).join(decls)}
    if (argc > 1 && strcmp(argv[1], "-f") == 0) {{
        use_float = 1;
        first = 2;
    }}
    (void)use_float;
    if (argc - first != {n_in + n_out}) {{
        fprintf(stderr, "usage: %s{float_flag} {usage_files}\\n", argv[0]);
        return 2;
    }}
    if ({checks}) {{
        fprintf(stderr, "out of memory\\n");
        return 1;
    }}
{chr(10).join(reads)}
    if ({p}_run({', '.join(args)}, arena) != 0) {{
        return 1;
    }}
{chr(10).join(writes)}
{chr(10).join(f'    free({a});' for a in frees)}
    return 0;
}}
"""


def makefile(program: CProgram) -> str:
    sources = ["main.c", "model.c"] + [f for f in program.files if f.endswith(".c")]
    headers = ["model.h"] + [f for f in program.files if f.endswith(".h")]
    return f"""# Builds the standalone check of model '{program.name}' (generated by qcc):
#     make && ./model input.bin output.bin
CC ?= cc
# Add -march=native (or -mavx512vnni -mavx512bw, -mavxvnni -mavx2, -mavx2) for the vector kernels: qcc_simd.h
CFLAGS ?= {' '.join(STANDALONE_FLAGS)} -Wall -Wextra -pedantic
LDLIBS ?= -lm

SOURCES = {' '.join(sources)}
HEADERS = {' '.join(headers)}

model: $(SOURCES) $(HEADERS)
\t$(CC) $(CFLAGS) -o $@ $(SOURCES) $(LDLIBS)

clean:
\trm -f model

.PHONY: clean
"""


def emit_sources(program: CProgram) -> dict[str, str]:
    """The generated files, by name (kernel library files are copied separately). Their model.h
    has no footprint: that needs model.c first (``footprint.model_footprint``), then ``model_h``."""
    return {"model.c": model_c(program), "model.h": model_h(program), "main.c": main_c(program), "Makefile": makefile(program)}


def cffi_prototypes(programs: Sequence[CProgram]) -> str:
    return "\n".join(line for program in programs for line in prototypes(program))
