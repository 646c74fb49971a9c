#!/usr/bin/env bash
# GPU checks and benchmarks in one go, for a GPU machine without Rust (BENCHMARKS.md).
#
#   scripts/gpu-checks.sh prepare   # here: build release binaries, copy them and the small
#                                   # reference cases into .gpu/ (git-ignored, < 64 MiB)
#   scripts/gpu-checks.sh run       # there: needs python3 with the CUDA torch 2.11 wheel;
#                                   # writes every result under $OUT (default out/gpu)
#
# run: (1) the DeepMind parity tests on cuda (end-to-end model_1_ptm_small and every module
# case that was carried), the memory techniques' gradient equivalence on cuda (fused attention
# takes CUDA kernels there), the multi-process Gloo tests (c10d shim against that machine's
# libtorch) and the NCCL tests (libhelixfold_nccl.so next to the binaries: every collective of a
# one-rank group on cuda:0, a job's axis groups on NCCL, and with two GPUs a two-rank DP
# all-reduce), (2) `bench infer` for model_1 at 256 and 384 residues in fp32 and bf16,
# (3) `bench train` step time and memory for initial_training (bf16, with and without
# recompute, and with fused attention) and finetune (bf16, recompute) on 1psm padded to the
# preset's crop, and `bench parallel` for the one-GPU layout (1x1x1, fp32, crop 128), (4) with
# LONGEST=1, the longest sequence whose forward pass fits (bf16, chunked). Each step has its own
# time limit and a failure does not stop the others. ONLY=train runs (3) alone; SKIP_INFER=1
# leaves out (2).
set -u
cd "$(dirname "$0")/.."

prepare() {
    set -e
    source scripts/env.sh
    cargo build --release
    local tests
    tests=$(cargo test --release --no-run --test parity_alphafold --test parity_modules --test memory_equivalence 2>&1 |
        sed -n 's/.*Executable .*(\(target\/release\/deps\/[^)]*\)).*/\1/p')
    tests="$tests $(cargo test --release --no-run --test parallel_gloo --test parallel_nccl 2>&1 |
        sed -n 's/.*Executable .*(\(target\/release\/deps\/[^)]*\)).*/\1/p')"
    rm -rf .gpu && mkdir -p .gpu/reference
    cp target/release/helixfold .gpu/
    for t in $tests; do cp "$t" ".gpu/$(basename "$t" | sed 's/-[0-9a-f]*$//')"; done
    # The NCCL backend's library, found next to the binaries (src/parallel/nccl.rs).
    local nccl
    nccl=$(ls -t target/release/build/helixfold-*/out/libhelixfold_nccl.so 2>/dev/null | head -n 1)
    if [ -n "$nccl" ]; then
        cp "$nccl" .gpu/
        strip .gpu/libhelixfold_nccl.so
    else
        echo "prepare: no libhelixfold_nccl.so (the build left NCCL out): the NCCL checks will fail" >&2
    fi
    # Symbols are not needed there, and the carried folder must stay under 64 MiB.
    strip .gpu/helixfold .gpu/parity_alphafold .gpu/parity_modules .gpu/memory_equivalence .gpu/parallel_gloo \
        .gpu/parallel_nccl
    local root=${HELIXFOLD_REFERENCE:-target/reference}
    for case in model_1_ptm_small msa_row_attention_with_pair_bias msa_column_attention \
        msa_column_global_attention msa_transition outer_product_mean \
        triangle_multiplication_outgoing triangle_multiplication_incoming \
        triangle_attention_starting_node triangle_attention_ending_node pair_transition \
        distogram masked_msa predicted_lddt predicted_aligned_error experimentally_resolved; do
        cp -r "$root/$case" .gpu/reference/
    done
    local data=${HELIXFOLD_SHARED_DATA:-../shared/data}/openfold_mini
    mkdir -p .gpu/data
    cp "$data/mmcif/1psm.cif" "$data/alignments/1psm_A/bfd_uniclust_hits.a3m" .gpu/data/
    # The device tool carries .gpu with the tracked files, 64 MiB in all.
    local carried
    carried=$(( $(du -sb .gpu | cut -f1) + $(git ls-files -z | xargs -0 du -cb | tail -n 1 | cut -f1) ))
    echo "prepare: .gpu and the tracked files: $carried bytes of the 67108864 that can be carried"
    if [ "$carried" -ge 67108864 ]; then
        echo "prepare: over the carry limit: leave reference cases out" >&2
        return 1
    fi
}

step() { # name, seconds, command...
    local name=$1 seconds=$2
    shift 2
    echo "== $name" | tee -a "$OUT/summary.txt"
    local started=$SECONDS
    timeout "$seconds" "$@" > "$OUT/$name.log" 2>&1
    local rc=$?
    echo "   exit $rc after $((SECONDS - started)) s" | tee -a "$OUT/summary.txt"
    { grep -m 1 -A 3 "panicked at" "$OUT/$name.log"; tail -n 4 "$OUT/$name.log"; } |
        sed 's/^/   /' | tee -a "$OUT/summary.txt"
    return $rc
}

train_benches() { # binary, json file
    local example=(--structure .gpu/data/1psm.cif --msa .gpu/data/bfd_uniclust_hits.a3m)
    local train=(bench train "${example[@]}" --device cuda --precision bf16 --steps 3 --json "$2")
    step train_initial_training_bf16 100 "$1" "${train[@]}" --preset initial_training
    step train_initial_training_bf16_recompute 100 "$1" "${train[@]}" --preset initial_training --recompute
    step train_finetune_bf16_recompute 120 "$1" "${train[@]}" --preset finetune --recompute
    step train_initial_training_bf16_recompute_fused 100 "$1" "${train[@]}" --preset initial_training --recompute --fused-attention
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
    local bin=.gpu/helixfold json=$OUT/bench.jsonl
    if [ "${ONLY:-}" = train ]; then
        train_benches "$bin" "$json"
        cat "$OUT/summary.txt"
        return
    fi
    step parity_alphafold 90 .gpu/parity_alphafold --test-threads 1 model_1_ptm_small --nocapture
    step parity_modules 60 .gpu/parity_modules --test-threads 1
    step memory_equivalence 120 .gpu/memory_equivalence --test-threads 1
    unset HELIXFOLD_TEST_DEVICE
    step parallel_gloo 120 .gpu/parallel_gloo --test-threads 2 collectives a_rank_killed
    step parallel_nccl 120 .gpu/parallel_nccl --include-ignored --test-threads 1
    local model_1=(--preset model_1 --msa 512 --extra-msa 5120 --templates 4 --device cuda --json "$json")
    for length in $([ "${SKIP_INFER:-}" ] || echo 256 384); do
        for precision in fp32 bf16; do
            step "infer_${length}_$precision" 100 "$bin" bench infer "${model_1[@]}" \
                --length "$length" --recycles 3 --repeats 2 --precision "$precision" --chunk-size 256
        done
    done
    train_benches "$bin" "$json"
    step bench_parallel 200 "$bin" bench parallel --layouts 1x1x1 --device cuda --preset initial_training \
        --crop 128 --steps 3 --structure .gpu/data/1psm.cif --msa .gpu/data/bfd_uniclust_hits.a3m
    if [ "${LONGEST:-}" ]; then
        for length in 1536 2048 2560; do
            step "fits_$length" 150 "$bin" bench infer "${model_1[@]}" \
                --length "$length" --recycles 0 --precision bf16 --chunk-size 32 || break
        done
    fi
    cat "$OUT/summary.txt"
}

case "${1:-}" in
    prepare) prepare ;;
    run) run ;;
    *) echo "usage: $0 prepare|run" >&2; exit 2 ;;
esac
