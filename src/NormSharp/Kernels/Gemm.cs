using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace NormSharp.Kernels;

/// <summary>
/// General matrix multiply, row-major: c[m, n] (+)= sum_k op(a)[m, k] * op(b)[k, n], where op transposes
/// when asked. <see cref="Reference"/> is the readable definition; <c>Multiply</c> is the fast
/// path and is tested against it: operands are packed into cache-sized panels (transposes are folded
/// into the packing), the register tiles of <see cref="ImplicitGemm.ForwardTile"/> (12x32 with Vector512, two 6x16
/// halves with Vector256 + FMA, scalar otherwise: a packed B strip is an image whose row p starts p·NR floats in)
/// compute each tile, and blocks of rows and columns run in parallel. Pack buffers come from
/// <see cref="ArrayPool{T}"/>, not from a fresh allocation per call.
/// </summary>
internal static class Gemm
{
    // a: [m, k] (or [k, m] when transposeA), b: [k, n] (or [n, k] when transposeB), c: [m, n]
    public static void Reference(
        ReadOnlySpan<float> a, ReadOnlySpan<float> b, int m, int n, int k,
        bool transposeA, bool transposeB, bool accumulate, Span<float> c)
    {
        CheckLengths(a.Length, b.Length, c.Length, m, n, k);
        for (int i = 0; i < m; i++)
        {
            for (int j = 0; j < n; j++)
            {
                double sum = 0;
                for (int p = 0; p < k; p++)
                {
                    float av = transposeA ? a[p * m + i] : a[i * k + p];
                    float bv = transposeB ? b[j * k + p] : b[p * n + j];
                    sum += (double)av * bv;
                }
                c[i * n + j] = accumulate ? c[i * n + j] + (float)sum : (float)sum;
            }
        }
    }

    /// <summary>The fast path; same contract as <see cref="Reference"/> (up to float rounding order).</summary>
    public static void Multiply(
        ReadOnlySpan<float> a, ReadOnlySpan<float> b, int m, int n, int k,
        bool transposeA, bool transposeB, bool accumulate, Span<float> c)
        => Multiply(a, b, m, n, k, transposeA, transposeB, accumulate, c, Simd.MultiplyAdd);

    // Blocking, in the usual Goto/BLIS loop order (jc, pc: pack B; ic: pack A; jr, ir: micro-kernel).
    // A packed B micro-panel (KC x NR floats: 32 KiB for NR = 32) stays in L1 while the A block
    // (MC x KC: 144 KiB) streams from L2, and the packed B block (KC x NC: 4 MiB at most) lives in L3.
    // MR = 12 (ImplicitGemm.Rows): 24 Vector512 accumulators against 2 loads and 12 broadcasts a step, where 6x32 (12
    // accumulators, 2 loads, 6 broadcasts) left the multiply-adds waiting on the front end and the loads: 512^3 on one
    // thread 73 -> 85-87 GFLOPS.
    private const int RowBlock = ImplicitGemm.Rows;   // MR: rows of c per packed strip
    private const int DepthBlock = 256;     // KC
    private const int RowPanel = 144;       // MC, a multiple of RowBlock
    private const int ColumnPanel = 4096;   // NC, a multiple of every NR
    private const int SharedRowLimit = 4 * RowPanel;   // up to this many rows, A is packed once per step
    // The packed vector micro-kernel's multiply-adds per unit of Parallelism work: threads from 2^21 (~40 µs on one core).
    // From 2^23 before: 60x784x100 took 132 µs on one thread against 86 µs on two, 32x256x256 63 against 39 µs. This
    // was reverted once while loops ran on Parallel.For (waking a parked pool thread made the paper-MLP epoch slower);
    // on WorkerTeam, nine alternating runs of each build: epoch median 130 against 138 ms (ranges 102-173 and
    // 101-166), the bench's Linear 60x784->100 fwd+bwd 0.33-0.47 against 0.38-0.80 ms (eight runs each).
    private const long MultiplyAddsPerWork = 16;
    // SplitColumns from this many columns per worker (one strip): a 100-column product (a linear layer's 784 -> 100)
    // split in four chunks took 137 µs against 171 µs in the depth-blocked schedule.
    private const int ColumnSplitWidth = 32;
    private const int ColumnSplitAlign = 32;           // its chunks hold whole strips of every NR
    private const long SplitDepthMaxOutput = 1L << 17;  // outputs up to this size split a long depth across threads instead

    /// <summary>
    /// The fast path with a chosen micro-kernel (tests run every supported one): 12x32 register blocks with Vector512
    /// FMA, 6x16 with Vector256 FMA, or plain scalar loops.
    /// </summary>
    internal static unsafe void Multiply(
        ReadOnlySpan<float> a, ReadOnlySpan<float> b, int m, int n, int k,
        bool transposeA, bool transposeB, bool accumulate, Span<float> c, SimdWidth kernel, int maxWorkers = int.MaxValue)
    {
        CheckLengths(a.Length, b.Length, c.Length, m, n, k);
        fixed (float* pa = a)
        {
            Multiply(pa, b, m, n, k, transposeA, transposeB, accumulate, c, kernel, maxWorkers, null);
        }
    }

    // a is read through pa, or, when prepackedA is not null, already packed there (a PackedMatrix).
    private static unsafe void Multiply(
        float* pa, ReadOnlySpan<float> b, int m, int n, int k,
        bool transposeA, bool transposeB, bool accumulate, Span<float> c, SimdWidth kernel, int maxWorkers, float* prepackedA)
    {
        kernel = Simd.ResolveMultiplyAdd(kernel);
        if (m == 0 || n == 0)
        {
            return;
        }
        if (k == 0)
        {
            if (!accumulate)
            {
                c[..(m * n)].Clear();
            }
            return;
        }
        fixed (float* pb = b, pc = c)
        {
            int workers = Parallelism.Workers((long)m * n * k / MultiplyAddsPerWork, maxWorkers);
            if (workers > 1 && (long)m * n <= SplitDepthMaxOutput && k >= 2 * DepthBlock * workers)
            {
                SplitDepth(pa, pb, pc, m, n, k, transposeA, transposeB, accumulate, kernel, workers, prepackedA);
            }
            else if (workers > 1 && m <= RowPanel && n >= ColumnSplitWidth * workers)
            {
                SplitColumns(pa, pb, pc, m, n, k, transposeA, transposeB, accumulate, kernel, workers, prepackedA);
            }
            else
            {
                new Job(pa, pb, pc, m, n, k, 0, k, 0, n, transposeA, transposeB, kernel, workers, prepackedA).Run(accumulate);
            }
        }
    }

    /// <summary>
    /// op(a) [m, k] packed once into the micro-kernel's row-strip layout, for a left operand that several products share
    /// (the column chunks of <see cref="SplitColumns"/>), which then skip packing it again.
    /// Layout: depth block pc (every <c>DepthBlock</c> of k) starts at RoundUp(m, MR)·pc and holds the strips that
    /// <c>Job.PackA</c> writes for that block. The buffer is rented; dispose to return it.
    /// </summary>
    internal sealed unsafe class PackedMatrix : IDisposable
    {
        private float[]? buffer;

        public PackedMatrix(ReadOnlySpan<float> a, int m, int k, bool transposeA)
        {
            if (m < 0 || k < 0 || a.Length < (long)m * k)
            {
                throw new ArgumentException($"Packing needs m, k >= 0 and a >= m·k elements; got m={m}, k={k}, a={a.Length}.");
            }
            Rows = m;
            Depth = k;
            buffer = ArrayPool<float>.Shared.Rent(Math.Max(1, RoundUp(m, RowBlock) * k));
            fixed (float* source = a, destination = buffer)
            {
                var job = new Job(source, null, null, m, 0, k, 0, k, 0, 0, transposeA, false, SimdWidth.Scalar, 1, null);
                job.PackAllDepthBlocks(destination);
            }
        }

        /// <summary>Rows m of op(a).</summary>
        public int Rows { get; }

        /// <summary>Depth k of op(a).</summary>
        public int Depth { get; }

        internal float[] Buffer => buffer ?? throw new ObjectDisposedException(nameof(PackedMatrix));

        public void Dispose()
        {
            if (buffer is not null)
            {
                ArrayPool<float>.Shared.Return(buffer);
                buffer = null;
            }
        }
    }

    /// <summary>
    /// Few rows, enough columns (a linear layer's batch): the columns are cut into chunks of whole 32-column strips,
    /// handed to the workers one by one, each a whole single-threaded multiplication of its own with A packed once
    /// beforehand. One hand-off per call instead of two per depth block: on
    /// 64-row products (64x256x784, 64x784x256, 64x3136x128) 0-30% faster than the shared schedule in the same process;
    /// at 256 and 512 rows it was slower, so it is kept to products of one row panel.
    /// </summary>
    private static unsafe void SplitColumns(
        float* a, float* b, float* c, int m, int n, int k, bool transposeA, bool transposeB, bool accumulate, SimdWidth kernel, int workers,
        float* prepackedA)
    {
        int strips = (n + ColumnSplitAlign - 1) / ColumnSplitAlign;
        int chunks = Math.Min(strips, 2 * workers);
        // A is packed once for all chunks (packing it per chunk cost as much as a chunk's multiply-adds at 64x256x784).
        using var packed = prepackedA is null ? new PackedMatrix(new ReadOnlySpan<float>(a, m * k), m, k, transposeA) : null;
        fixed (float* shared = packed?.Buffer)
        {
            float* packedA = prepackedA is null ? shared : prepackedA;
            Parallelism.ForEach(chunks, workers, chunk =>
            {
                int j0 = strips * chunk / chunks * ColumnSplitAlign, j1 = Math.Min(n, strips * (chunk + 1) / chunks * ColumnSplitAlign);
                new Job(null, b, c, m, n, k, 0, k, j0, j1, false, transposeB, kernel, 1, packedA).Run(accumulate);
            });
        }
    }

    /// <summary>
    /// Small output, long depth (a weight gradient summed over a batch): the depth is cut into one slice per worker,
    /// each slice multiplied on its own thread into its own buffer (slice 0 straight into c), and the buffers added
    /// in slice order, so the result does not depend on thread timing. This replaces a thread hand-off per depth
    /// block with one per call.
    /// </summary>
    private static unsafe void SplitDepth(
        float* a, float* b, float* c, int m, int n, int k, bool transposeA, bool transposeB, bool accumulate, SimdWidth kernel, int workers,
        float* prepackedA)
    {
        int blocks = (k + DepthBlock - 1) / DepthBlock;
        var partials = new float[workers - 1][];
        try
        {
            for (int w = 1; w < workers; w++)
            {
                partials[w - 1] = ArrayPool<float>.Shared.Rent(m * n);
            }
            Parallelism.ForEach(workers, workers, w =>
            {
                int k0 = Math.Min(k, blocks * w / workers * DepthBlock), k1 = Math.Min(k, blocks * (w + 1) / workers * DepthBlock);
                if (w == 0)
                {
                    new Job(a, b, c, m, n, k, k0, k1, 0, n, transposeA, transposeB, kernel, 1, prepackedA).Run(accumulate);
                    return;
                }
                fixed (float* partial = partials[w - 1])
                {
                    if (k1 > k0)
                    {
                        new Job(a, b, partial, m, n, k, k0, k1, 0, n, transposeA, transposeB, kernel, 1, prepackedA).Run(false);
                    }
                    else
                    {
                        new Span<float>(partial, m * n).Clear();
                    }
                }
            });
            var result = new Span<float>(c, m * n);
            foreach (var partial in partials)
            {
                System.Numerics.Tensors.TensorPrimitives.Add(result, partial.AsSpan(0, m * n), result);
            }
        }
        finally
        {
            foreach (var partial in partials)
            {
                if (partial is not null)
                {
                    ArrayPool<float>.Shared.Return(partial);
                }
            }
        }
    }

    /// <summary>One multiplication: the operands as pointers and the blocking derived from the shape.</summary>
    private sealed unsafe class Job
    {
        private readonly float* a, b, c;
        private readonly int m, n, k;
        private readonly bool transposeA, transposeB;
        private readonly SimdWidth kernel;
        private readonly int columnBlock;   // NR
        private readonly int workers;
        private readonly int depthStart, depthEnd;
        private readonly int columnStart, columnEnd;
        private readonly float* prepackedA;   // all of op(a) packed by a PackedMatrix, or null

        // Per (jc, pc) step, read by the workers.
        private float* packedB;
        private float* packedA;   // all of A for the step when m <= SharedRowLimit, else null
        private int jc, nc, pc, kc, strips, rowBlocks, stripSplits;
        private bool accumulateStep;

        // Multiplies over the depth range [depthStart, depthEnd) of k into the columns [columnStart, columnEnd) of c;
        // operand strides stay those of the full k and n.
        public Job(float* a, float* b, float* c, int m, int n, int k, int depthStart, int depthEnd, int columnStart, int columnEnd, bool transposeA, bool transposeB, SimdWidth kernel, int workers,
            float* prepackedA)
        {
            this.prepackedA = prepackedA;
            this.depthStart = depthStart;
            this.depthEnd = depthEnd;
            this.columnStart = columnStart;
            this.columnEnd = columnEnd;
            this.a = a;
            this.b = b;
            this.c = c;
            this.m = m;
            this.n = n;
            this.k = k;
            this.transposeA = transposeA;
            this.transposeB = transposeB;
            this.kernel = kernel;
            columnBlock = kernel == SimdWidth.Vector512 ? 32 : 16;
            this.workers = workers;
        }

        public void Run(bool accumulate)
        {
            float[] bArray = ArrayPool<float>.Shared.Rent(DepthBlock * Math.Min(ColumnPanel, RoundUp(columnEnd - columnStart, columnBlock)) + 16);
            // With few rows, A is packed once per depth block and shared by the items that split the columns.
            float[]? aArray = m <= SharedRowLimit && prepackedA is null ? ArrayPool<float>.Shared.Rent(DepthBlock * RoundUp(m, RowBlock) + 16) : null;
            try
            {
                fixed (float* bBase = bArray, aBase = aArray)
                {
                    packedB = Alignment.Up(bBase);
                    packedA = aArray is null ? null : Alignment.Up(aBase);
                    for (jc = columnStart; jc < columnEnd; jc += ColumnPanel)
                    {
                        nc = Math.Min(ColumnPanel, columnEnd - jc);
                        strips = (nc + columnBlock - 1) / columnBlock;
                        for (pc = depthStart; pc < depthEnd; pc += DepthBlock)
                        {
                            kc = Math.Min(DepthBlock, depthEnd - pc);
                            accumulateStep = accumulate || pc > depthStart;
                            if (prepackedA is not null)
                            {
                                packedA = prepackedA + (long)RoundUp(m, RowBlock) * pc;
                            }
                            Step();
                        }
                    }
                }
            }
            finally
            {
                ArrayPool<float>.Shared.Return(bArray);
                if (aArray is not null)
                {
                    ArrayPool<float>.Shared.Return(aArray);
                }
            }
        }

        // One (jc, pc) step: pack the B block (and all of A when it is small), then c[:, jc..jc+nc] (+)= A[:, pc..pc+kc] * Bblock.
        private void Step()
        {
            rowBlocks = (m + RowPanel - 1) / RowPanel;
            // Enough work items for both cores to stay busy: split the column strips too when rows are few.
            stripSplits = workers == 1 ? 1 : Math.Clamp((4 * workers + rowBlocks - 1) / rowBlocks, 1, strips);
            int rowStrips = (m + RowBlock - 1) / RowBlock;
            if (workers == 1)
            {
                PackB(0, 1);
                if (packedA is not null && prepackedA is null)
                {
                    PackA(0, rowStrips, packedA);
                }
                for (int item = 0; item < rowBlocks; item++)
                {
                    Macro(item);
                }
                return;
            }
            // B's chunks, then (when shared) A's strips, in one parallel loop of similar-sized chunks.
            int bChunks = Math.Min(transposeB ? strips : kc, 4 * workers);
            int aChunks = packedA is null || prepackedA is not null ? 0 : Math.Min(rowStrips, 4 * workers);
            Parallelism.ForEach(bChunks + aChunks, workers, chunk =>
            {
                if (chunk < bChunks)
                {
                    PackB(chunk, bChunks);
                }
                else
                {
                    chunk -= bChunks;
                    PackA(chunk * rowStrips / aChunks, (chunk + 1) * rowStrips / aChunks, packedA);
                }
            });
            Parallelism.ForEach(rowBlocks * stripSplits, workers, Macro);
        }

        // Packs all of op(a), depth block after depth block, in the layout PackedMatrix documents.
        public void PackAllDepthBlocks(float* destination)
        {
            int rowStrips = (m + RowBlock - 1) / RowBlock;
            for (pc = 0; pc < k; pc += DepthBlock)
            {
                kc = Math.Min(DepthBlock, k - pc);
                PackA(0, rowStrips, destination + (long)RoundUp(m, RowBlock) * pc);
            }
        }

        // Packs part chunk of chunks of the B block: strip t holds columns jc + t*NR .. + NR as kc rows of NR floats,
        // zero-padded past n. A chunk is a range of depth rows when b is [k, n], a range of strips when it is [n, k]:
        // either way it reads b sequentially.
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private void PackB(int chunk, int chunks)
        {
            if (transposeB)
            {
                PackTransposedB(strips * chunk / chunks, strips * (chunk + 1) / chunks);
                return;
            }
            // b is [k, n]: row p of b fills row p of every strip. Strip by strip instead, the reads were 128-byte pieces
            // n floats apart, each a cache miss of its own: 512^3 on one thread spent 16% of its time packing B, now 10%.
            int nr = columnBlock;
            for (int p = kc * chunk / chunks, end = kc * (chunk + 1) / chunks; p < end; p++)
            {
                float* source = b + (long)(pc + p) * n + jc;
                float* destination = packedB + (long)p * nr;
                for (int t = 0; t < strips; t++, source += nr, destination += (long)nr * kc)
                {
                    int width = Math.Min(nr, columnEnd - jc - t * nr);
                    if (width == 32)
                    {
                        Vector512.Store(Vector512.Load(source), destination);
                        Vector512.Store(Vector512.Load(source + 16), destination + 16);
                    }
                    else if (width == nr)
                    {
                        Vector256.Store(Vector256.Load(source), destination);
                        Vector256.Store(Vector256.Load(source + 8), destination + 8);
                    }
                    else
                    {
                        new ReadOnlySpan<float>(source, width).CopyTo(new Span<float>(destination, width));
                        new Span<float>(destination + width, nr - width).Clear();
                    }
                }
            }
        }

        // b is [n, k]: column j of op(b) is row j of b. Eight rows of b at a time are transposed in registers (a weight
        // gradient's column matrix is packed this way, as much data as its product reads).
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private void PackTransposedB(int first, int last)
        {
            int nr = columnBlock;
            for (int t = first; t < last; t++)
            {
                int j0 = jc + t * nr;
                int width = Math.Min(nr, columnEnd - j0);
                float* destination = packedB + (long)t * nr * kc;
                if (width < nr)
                {
                    new Span<float>(destination, nr * kc).Clear();
                }
                int col = 0;
                if (Avx.IsSupported)
                {
                    for (; col + 8 <= width; col += 8)
                    {
                        float* source = b + (long)(j0 + col) * k + pc;
                        int p = 0;
                        for (; p + 8 <= kc; p += 8)
                        {
                            Transpose8x8(source + p, k, destination + p * nr + col, nr);
                        }
                        for (; p < kc; p++)
                        {
                            for (int r = 0; r < 8; r++)
                            {
                                destination[p * nr + col + r] = source[(long)r * k + p];
                            }
                        }
                    }
                }
                for (; col < width; col++)
                {
                    float* source = b + (long)(j0 + col) * k + pc;
                    for (int p = 0; p < kc; p++)
                    {
                        destination[p * nr + col] = source[p];
                    }
                }
            }
        }

        // Work item: one MC block of rows times one share of the column strips.
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private void Macro(int item)
        {
            bool nr32 = columnBlock == 32;
            int rowBlock = item / stripSplits, split = item % stripSplits;
            int i0 = rowBlock * RowPanel;
            int mc = Math.Min(RowPanel, m - i0);
            int firstStrip = split * strips / stripSplits, lastStrip = (split + 1) * strips / stripSplits;
            if (firstStrip == lastStrip)
            {
                return;
            }
            float[]? aArray = packedA is null ? ArrayPool<float>.Shared.Rent(RowPanel * DepthBlock + 16) : null;
            try
            {
                fixed (float* aBase = aArray)
                fixed (int* panelRows = nr32 ? PanelRows32 : PanelRows16)
                {
                    // A small A was packed once for all items; otherwise each item packs its own row block.
                    float* blockA = packedA is null ? Alignment.Up(aBase) : packedA + (long)i0 * kc;
                    if (packedA is null)
                    {
                        PackA(i0 / RowBlock, (i0 + mc + RowBlock - 1) / RowBlock, blockA - (long)i0 * kc);
                    }
                    int nr = columnBlock;
                    float* tile = stackalloc float[RowBlock * 32];
                    for (int t = firstStrip; t < lastStrip; t++)
                    {
                        int j0 = jc + t * nr;
                        int cols = Math.Min(nr, columnEnd - j0);
                        float* bPanel = packedB + (long)t * nr * kc;
                        for (int s = 0; s * RowBlock < mc; s++)
                        {
                            int i = i0 + s * RowBlock;
                            int rows = Math.Min(RowBlock, m - i);
                            float* aPanel = blockA + (long)s * RowBlock * kc;
                            float* cTile = c + (long)i * n + j0;
                            // The last strip of 32 columns may need only 16: a half tile costs half (n = 100: 3.5 tiles
                            // a row strip instead of 4).
                            bool half = nr32 && cols <= 16;
                            if (cols == (half ? 16 : nr))
                            {
                                Tile(aPanel, bPanel, panelRows, cTile, n, rows, half, accumulateStep);
                            }
                            else
                            {
                                // The last strip of columns: the whole tile into a buffer, then its valid corner into c.
                                Tile(aPanel, bPanel, panelRows, tile, nr, rows, half, accumulate: false);
                                StoreTile(tile, nr, cTile, n, rows, cols, accumulateStep);
                            }
                        }
                    }
                }
            }
            finally
            {
                if (aArray is not null)
                {
                    ArrayPool<float>.Shared.Return(aArray);
                }
            }
        }

        // c (+)= one row strip of A times one strip of B: a whole tile, or the first 16 columns of a Vector512 one.
        private void Tile(float* aPanel, float* bPanel, int* panelRows, float* c, int ldc, int rows, bool half, bool accumulate)
        {
            if (half)
            {
                ImplicitGemm.ForwardHalfTile(aPanel, RowBlock, bPanel, panelRows, kc, c, ldc, rows, accumulate);
            }
            else
            {
                ImplicitGemm.ForwardTile(kernel, aPanel, RowBlock, bPanel, panelRows, kc, c, ldc, rows, accumulate);
            }
        }

        // Packs row strips [first, last) of A[:, pc..pc+kc]: strip s holds rows s*MR .. s*MR+MR with element (p, r) at
        // packed[s*MR*kc + p*MR + r], zero-padded past m.
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private void PackA(int first, int last, float* packed)
        {
            for (int s = first; s < last; s++)
            {
                float* destination = packed + (long)s * RowBlock * kc;
                int iStart = s * RowBlock;
                int rows = Math.Min(RowBlock, m - iStart);
                if (rows < RowBlock)
                {
                    new Span<float>(destination, RowBlock * kc).Clear();
                }
                if (!transposeA && rows == RowBlock && Avx.IsSupported)
                {
                    // a is [m, k], a whole strip of 12 rows: rows 0-7 and rows 4-11 transposed 8x8 in registers (rows 4-7
                    // twice, the same values), where the scalar loop below cost 12% of 512^3 on one thread.
                    float* source = a + (long)iStart * k + pc;
                    int p = 0;
                    for (; p + 8 <= kc; p += 8)
                    {
                        Transpose8x8(source + p, k, destination + p * RowBlock, RowBlock);
                        Transpose8x8(source + 4L * k + p, k, destination + p * RowBlock + 4, RowBlock);
                    }
                    for (; p < kc; p++)
                    {
                        for (int r = 0; r < RowBlock; r++)
                        {
                            destination[p * RowBlock + r] = source[(long)r * k + p];
                        }
                    }
                }
                else if (!transposeA)
                {
                    // a is [m, k]: row i of the strip is contiguous in a.
                    for (int r = 0; r < rows; r++)
                    {
                        float* source = a + (long)(iStart + r) * k + pc;
                        for (int p = 0; p < kc; p++)
                        {
                            destination[p * RowBlock + r] = source[p];
                        }
                    }
                }
                else
                {
                    // a is [k, m]: the strip's rows at one p are contiguous.
                    float* source = a + (long)pc * m + iStart;
                    if (rows == RowBlock)
                    {
                        // 12 = 8 + 4 floats a step.
                        for (int p = 0; p < kc; p++, source += m)
                        {
                            Vector256.Store(Vector256.Load(source), destination + p * RowBlock);
                            Vector128.Store(Vector128.Load(source + 8), destination + p * RowBlock + 8);
                        }
                        continue;
                    }
                    for (int p = 0; p < kc; p++, source += m)
                    {
                        for (int r = 0; r < rows; r++)
                        {
                            destination[p * RowBlock + r] = source[r];
                        }
                    }
                }
            }
        }
    }

    // destination[p·destinationStride + r] = source[r·sourceStride + p] for r, p in 0..8: the usual unpack, shuffle,
    // lane-permute transpose of an 8x8 block, its 4x4 quarters transposed within lanes first.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static unsafe void Transpose8x8(float* source, int sourceStride, float* destination, int destinationStride)
    {
        var r0 = Avx.LoadVector256(source);
        var r1 = Avx.LoadVector256(source + sourceStride);
        var r2 = Avx.LoadVector256(source + 2L * sourceStride);
        var r3 = Avx.LoadVector256(source + 3L * sourceStride);
        var r4 = Avx.LoadVector256(source + 4L * sourceStride);
        var r5 = Avx.LoadVector256(source + 5L * sourceStride);
        var r6 = Avx.LoadVector256(source + 6L * sourceStride);
        var r7 = Avx.LoadVector256(source + 7L * sourceStride);
        var (s0, s1, s2, s3) = TransposeLanes(r0, r1, r2, r3);
        var (s4, s5, s6, s7) = TransposeLanes(r4, r5, r6, r7);
        Avx.Store(destination, Avx.Permute2x128(s0, s4, 0x20));
        Avx.Store(destination + destinationStride, Avx.Permute2x128(s1, s5, 0x20));
        Avx.Store(destination + 2L * destinationStride, Avx.Permute2x128(s2, s6, 0x20));
        Avx.Store(destination + 3L * destinationStride, Avx.Permute2x128(s3, s7, 0x20));
        Avx.Store(destination + 4L * destinationStride, Avx.Permute2x128(s0, s4, 0x31));
        Avx.Store(destination + 5L * destinationStride, Avx.Permute2x128(s1, s5, 0x31));
        Avx.Store(destination + 6L * destinationStride, Avx.Permute2x128(s2, s6, 0x31));
        Avx.Store(destination + 7L * destinationStride, Avx.Permute2x128(s3, s7, 0x31));
    }

    /// <summary>The 4x4 transposes of the rows r0..r3 within each 128-bit lane: lane l of result k is column k of lane l.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static (Vector256<float>, Vector256<float>, Vector256<float>, Vector256<float>) TransposeLanes(
        Vector256<float> r0, Vector256<float> r1, Vector256<float> r2, Vector256<float> r3)
    {
        var t0 = Avx.UnpackLow(r0, r1);
        var t1 = Avx.UnpackHigh(r0, r1);
        var t2 = Avx.UnpackLow(r2, r3);
        var t3 = Avx.UnpackHigh(r2, r3);
        return (Avx.Shuffle(t0, t2, 0x44), Avx.Shuffle(t0, t2, 0xEE), Avx.Shuffle(t1, t3, 0x44), Avx.Shuffle(t1, t3, 0xEE));
    }

    /// <summary>The 4x4 transpose of the rows r0..r3: result k is column k.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static (Vector128<float>, Vector128<float>, Vector128<float>, Vector128<float>) TransposeLanes(
        Vector128<float> r0, Vector128<float> r1, Vector128<float> r2, Vector128<float> r3)
    {
        var t0 = Sse.UnpackLow(r0, r1);
        var t1 = Sse.UnpackHigh(r0, r1);
        var t2 = Sse.UnpackLow(r2, r3);
        var t3 = Sse.UnpackHigh(r2, r3);
        return (Sse.MoveLowToHigh(t0, t2), Sse.MoveHighToLow(t2, t0), Sse.MoveLowToHigh(t1, t3), Sse.MoveHighToLow(t3, t1));
    }

    private static int RoundUp(int value, int multiple) => (value + multiple - 1) / multiple * multiple;

    // A packed B strip is an "image" for ImplicitGemm's tiles: row p of the strip starts p·NR floats in.
    private static readonly int[] PanelRows32 = PanelRows(32), PanelRows16 = PanelRows(16);

    private static int[] PanelRows(int nr) => Enumerable.Range(0, DepthBlock).Select(p => p * nr).ToArray();


    // Writes the valid rows x cols corner of a register tile (row stride tileStride) into c.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void StoreTile(float* tile, int tileStride, float* c, int ldc, int rows, int cols, bool accumulate)
    {
        for (int r = 0; r < rows; r++)
        {
            var source = new ReadOnlySpan<float>(tile + r * tileStride, cols);
            var destination = new Span<float>(c + (long)r * ldc, cols);
            if (accumulate)
            {
                System.Numerics.Tensors.TensorPrimitives.Add(destination, source, destination);
            }
            else
            {
                source.CopyTo(destination);
            }
        }
    }

    private static void CheckLengths(int aLength, int bLength, int cLength, int m, int n, int k)
    {
        if (m < 0 || n < 0 || k < 0)
        {
            throw new ArgumentException($"GEMM dimensions must be non-negative, got m={m}, n={n}, k={k}.");
        }
        if (aLength < (long)m * k || bLength < (long)k * n || cLength < (long)m * n)
        {
            throw new ArgumentException(
                $"GEMM m={m}, n={n}, k={k} needs a >= {(long)m * k}, b >= {(long)k * n}, c >= {(long)m * n} elements; got {aLength}, {bLength}, {cLength}.");
        }
    }
}
