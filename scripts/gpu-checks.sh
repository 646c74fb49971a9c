#!/usr/bin/env bash
# GPU checks and benchmarks in one go, for a GPU machine without Rust (BENCHMARKS.md).
#
#   scripts/gpu-checks.sh prepare   # here: build release binaries, copy them and the small
#                                   # reference cases into .gpu/ (git-ignored, < 64 MiB)
#   scripts/gpu-checks.sh run       # there: needs python3 with the CUDA torch 2.11 wheel;
#                                   # writes every result under $OUT (default out/gpu)
#
# run: (1) the DeepMind parity tests on cuda (end-to-end model_1_ptm_small and every module
# case that was carried), (2) `bench infer` for model_1 at 256 and 384 residues in fp32 and bf16,
# (3) the longest sequence whose forward pass fits (bf16, chunked), (4) `bench train` when the
# binary has it. Each step has its own time limit and a failure does not stop the others.
set -u
cd "$(dirname "$0")/.."

prepare() {
    set -e
    source scripts/env.sh
    cargo build --release
    local tests
    tests=$(cargo test --release --no-run --test parity_alphafold --test parity_modules 2>&1 |
        sed -n 's/.*Executable .*(\(target\/release\/deps\/[^)]*\)).*/\1/p')
    rm -rf .gpu && mkdir -p .gpu/reference
    cp target/release/helixfold .gpu/
    for t in $tests; do cp "$t" ".gpu/$(basename "$t" | sed 's/-[0-9a-f]*$//')"; done
    local root=${HELIXFOLD_REFERENCE:-target/reference}
    for case in model_1_ptm_small msa_row_attention_with_pair_bias msa_column_attention \
        msa_column_global_attention msa_transition outer_product_mean \
        triangle_multiplication_outgoing triangle_multiplication_incoming \
        triangle_attention_starting_node triangle_attention_ending_node pair_transition \
        distogram masked_msa predicted_lddt predicted_aligned_error experimentally_resolved; do
        cp -r "$root/$case" .gpu/reference/
    done
    du -sh .gpu
}

step() { # name, seconds, command...
    local name=$1 seconds=$2
    shift 2
    echo "== $name" | tee -a "$OUT/summary.txt"
    local started=$SECONDS
    timeout "$seconds" "$@" > "$OUT/$name.log" 2>&1
    local rc=$?
    echo "   exit $rc after $((SECONDS - started)) s" | tee -a "$OUT/summary.txt"
    tail -n 4 "$OUT/$name.log" | sed 's/^/   /' | tee -a "$OUT/summary.txt"
    return $rc
}

run() {
    OUT=${OUT:-out/gpu}
    mkdir -p "$OUT"
    local torch_lib
    torch_lib=$(python3 -c 'import torch,os;print(os.path.dirname(torch.__file__))')/lib
    export LD_LIBRARY_PATH=$torch_lib:${LD_LIBRARY_PATH:-}
    nvidia-smi > "$OUT/nvidia-smi.txt" 2>&1
    head -n 12 "$OUT/nvidia-smi.txt" > "$OUT/summary.txt"
    export HELIXFOLD_REFERENCE=$PWD/.gpu/reference HELIXFOLD_TEST_DEVICE=cuda
    step parity_alphafold 90 .gpu/parity_alphafold --test-threads 1 model_1_ptm_small --nocapture
    step parity_modules 60 .gpu/parity_modules --test-threads 1
    unset HELIXFOLD_TEST_DEVICE
    local bin=.gpu/helixfold json=$OUT/bench.jsonl
    local model_1=(--preset model_1 --msa 512 --extra-msa 5120 --templates 4 --device cuda --json "$json")
    for length in 256 384; do
        for precision in fp32 bf16; do
            step "infer_${length}_$precision" 100 "$bin" bench infer "${model_1[@]}" \
                --length "$length" --recycles 3 --repeats 2 --precision "$precision" --chunk-size 256
        done
    done
    for length in 1024 2048 3072; do
        step "fits_$length" 100 "$bin" bench infer "${model_1[@]}" \
            --length "$length" --recycles 0 --precision bf16 --chunk-size 32 || break
    done
    if "$bin" bench --help 2>/dev/null | grep -q train; then
        step train_initial_training_bf16 120 "$bin" bench train --preset initial_training \
            --device cuda --precision bf16 --json "$json"
        step train_finetune_bf16 120 "$bin" bench train --preset finetune \
            --device cuda --precision bf16 --json "$json"
    fi
    cat "$OUT/summary.txt"
}

case "${1:-}" in
    prepare) prepare ;;
    run) run ;;
    *) echo "usage: $0 prepare|run" >&2; exit 2 ;;
esac
