using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace NormSharp.Kernels;

/// <summary>Which vector width a fast kernel uses; <see cref="Auto"/> is the widest the machine accelerates.</summary>
internal enum SimdWidth
{
    /// <summary>Vector512 where accelerated, else Vector256 where accelerated, else scalar.</summary>
    Auto,

    /// <summary>One float at a time (the fallback; also how tests reach the scalar path on any machine).</summary>
    Scalar,

    /// <summary>Vector256 (8 floats).</summary>
    Vector256,

    /// <summary>Vector512 (16 floats).</summary>
    Vector512,
}

/// <summary>Resolves <see cref="SimdWidth.Auto"/> and tells which widths run here.</summary>
internal static class Simd
{
    /// <summary>
    /// The width of the memory-bound kernels (normalization, elementwise): the widest that .NET reports as accelerated.
    /// .NET reports Vector512 as not accelerated on CPUs that lower their clock for 512-bit code (Skylake-X, Cascade
    /// Lake), and a kernel limited by memory gains nothing from the wider registers there.
    /// </summary>
    public static SimdWidth Best { get; } =
        Vector512.IsHardwareAccelerated && IsSupported(SimdWidth.Vector512) ? SimdWidth.Vector512
        : IsSupported(SimdWidth.Vector256) ? SimdWidth.Vector256
        : SimdWidth.Scalar;

    /// <summary>
    /// The width of the multiply-add tiles (GEMM, convolution): the widest that runs here, Vector512 wherever AVX-512F
    /// does. These tiles are limited by FMA throughput, so twice the lanes outweigh the lower clock (the 6x32 convolution
    /// tile ran 1.5-2.4x faster than the 6x16 one on the 2-core Cascade Lake VM, where <see cref="Best"/> is Vector256).
    /// </summary>
    public static SimdWidth MultiplyAdd { get; } =
        IsSupported(SimdWidth.Vector512) ? SimdWidth.Vector512 : Best;

    /// <summary>
    /// Whether large outputs (batch norm's y and dx, copies of 16 MiB and more) are written with non-temporal stores,
    /// which skip reading each destination line before writing it: everywhere but on Intel CPUs. On the AMD Zen 5 VM they
    /// made batch norm's (32,64,56,56) evaluation 1.1 → 0.95 ms and its backward 2.55 → 2.2 ms. On the Intel Xeon
    /// (Cascade Lake) VM plain stores were faster inside a step, alternating in one process: BatchNorm2d (32,64,56,56)
    /// forward and backward 8.7-9.0 against 9.6-9.9 ms, inside (y * g).Sum().Backward() 13.4-13.9 against 14.3-14.9 ms,
    /// and (x * g).Sum().Backward(), whose leaf gradient is a copy, 7.2-7.3 against 7.6 ms.
    /// </summary>
    public static bool NonTemporalStoresPay { get; } = Sse.IsSupported && !IsIntel();

    // The CPUID vendor string "GenuineIntel", in EBX, EDX, ECX.
    private static bool IsIntel()
    {
        if (!X86Base.IsSupported)
        {
            return false;
        }
        var (_, ebx, ecx, edx) = X86Base.CpuId(0, 0);
        return ebx == 0x756E6547 && edx == 0x49656E69 && ecx == 0x6C65746E;
    }

    /// <summary>The width to run: <paramref name="width"/>, or <see cref="Best"/> for Auto.</summary>
    public static SimdWidth Resolve(SimdWidth width) => Check(width == SimdWidth.Auto ? Best : width, width);

    /// <summary>The width to run a multiply-add tile at: <paramref name="width"/>, or <see cref="MultiplyAdd"/> for Auto.</summary>
    public static SimdWidth ResolveMultiplyAdd(SimdWidth width) => Check(width == SimdWidth.Auto ? MultiplyAdd : width, width);

    private static SimdWidth Check(SimdWidth resolved, SimdWidth width)
    {
        if (!IsSupported(resolved))
        {
            throw new ArgumentException($"SIMD width {width} is not accelerated on this machine (best: {Best}).", nameof(width));
        }
        return resolved;
    }

    /// <summary>
    /// Whether <paramref name="width"/> is accelerated here (scalar always is). GEMM's micro-kernels use the x86 FMA
    /// instructions directly, so a vector width also needs them (AVX-512F; FMA3 with AVX2).
    /// </summary>
    public static bool IsSupported(SimdWidth width) => width switch
    {
        SimdWidth.Vector512 => Avx512F.IsSupported,
        SimdWidth.Vector256 => Vector256.IsHardwareAccelerated && Fma.IsSupported,
        _ => true,
    };
}

/// <summary>
/// The handful of float vector operations the normalization kernels need, as static abstract members of a struct
/// type argument, so that one generic kernel body compiles to a Vector512, a Vector256 and a scalar loop (the JIT
/// specializes generics over structs). TensorPrimitives passes its operators the same way; here the struct stands for
/// the vector width, not for the operation.
/// </summary>
internal unsafe interface ISimdOps<TVector>
    where TVector : struct
{
    static abstract int Count { get; }

    static abstract TVector Zero { get; }

    static abstract TVector Load(float* source);

    static abstract void Store(float* destination, TVector value);

    static abstract TVector Broadcast(float value);

    static abstract TVector Add(TVector left, TVector right);

    static abstract TVector Subtract(TVector left, TVector right);

    static abstract TVector Multiply(TVector left, TVector right);

    /// <summary>left · right + addend, fused where the hardware has FMA.</summary>
    static abstract TVector MultiplyAdd(TVector left, TVector right, TVector addend);

    /// <summary>max(value, 0) that keeps NaN, as PyTorch's relu.</summary>
    static abstract TVector Relu(TVector value);

    /// <summary>test &gt; 0 ? value : 0 per lane (the ReLU gradient mask; NaN tests give 0).</summary>
    static abstract TVector WherePositive(TVector test, TVector value);

    static abstract float Sum(TVector value);

    /// <summary>
    /// Stores bypassing the caches (non-temporal), so that writing a large output does not first read its lines from
    /// memory; <paramref name="destination"/> must be aligned to the vector size. The scalar form is a plain store.
    /// </summary>
    static abstract void StoreStreaming(float* destination, TVector value);

    /// <summary>A hint to start loading the cache line at <paramref name="address"/> (never faults; a no-op off x86).</summary>
    static virtual void Prefetch(float* address)
    {
        if (System.Runtime.Intrinsics.X86.Sse.IsSupported)
        {
            System.Runtime.Intrinsics.X86.Sse.Prefetch0(address);
        }
    }
}

internal readonly unsafe struct Vector512Ops : ISimdOps<Vector512<float>>
{
    public static int Count => Vector512<float>.Count;

    public static Vector512<float> Zero => Vector512<float>.Zero;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Load(float* source) => Vector512.Load(source);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(float* destination, Vector512<float> value) => value.Store(destination);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StoreStreaming(float* destination, Vector512<float> value) => value.StoreAlignedNonTemporal(destination);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Broadcast(float value) => Vector512.Create(value);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Add(Vector512<float> left, Vector512<float> right) => left + right;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Subtract(Vector512<float> left, Vector512<float> right) => left - right;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Multiply(Vector512<float> left, Vector512<float> right) => left * right;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> MultiplyAdd(Vector512<float> left, Vector512<float> right, Vector512<float> addend) =>
        Vector512.MultiplyAddEstimate(left, right, addend);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Relu(Vector512<float> value) =>
        Vector512.ConditionalSelect(Vector512.LessThan(value, Vector512<float>.Zero), Vector512<float>.Zero, value);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> WherePositive(Vector512<float> test, Vector512<float> value) =>
        Vector512.ConditionalSelect(Vector512.GreaterThan(test, Vector512<float>.Zero), value, Vector512<float>.Zero);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Sum(Vector512<float> value) => Vector512.Sum(value);
}

internal readonly unsafe struct Vector256Ops : ISimdOps<Vector256<float>>
{
    public static int Count => Vector256<float>.Count;

    public static Vector256<float> Zero => Vector256<float>.Zero;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Load(float* source) => Vector256.Load(source);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(float* destination, Vector256<float> value) => value.Store(destination);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StoreStreaming(float* destination, Vector256<float> value) => value.StoreAlignedNonTemporal(destination);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Broadcast(float value) => Vector256.Create(value);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Add(Vector256<float> left, Vector256<float> right) => left + right;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Subtract(Vector256<float> left, Vector256<float> right) => left - right;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Multiply(Vector256<float> left, Vector256<float> right) => left * right;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> MultiplyAdd(Vector256<float> left, Vector256<float> right, Vector256<float> addend) =>
        Vector256.MultiplyAddEstimate(left, right, addend);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Relu(Vector256<float> value) =>
        Vector256.ConditionalSelect(Vector256.LessThan(value, Vector256<float>.Zero), Vector256<float>.Zero, value);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> WherePositive(Vector256<float> test, Vector256<float> value) =>
        Vector256.ConditionalSelect(Vector256.GreaterThan(test, Vector256<float>.Zero), value, Vector256<float>.Zero);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Sum(Vector256<float> value) => Vector256.Sum(value);
}

internal readonly unsafe struct ScalarOps : ISimdOps<float>
{
    public static int Count => 1;

    public static float Zero => 0f;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Load(float* source) => *source;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(float* destination, float value) => *destination = value;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StoreStreaming(float* destination, float value) => *destination = value;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Broadcast(float value) => value;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Add(float left, float right) => left + right;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Subtract(float left, float right) => left - right;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Multiply(float left, float right) => left * right;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float MultiplyAdd(float left, float right, float addend) => float.MultiplyAddEstimate(left, right, addend);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Relu(float value) => value < 0 ? 0 : value;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float WherePositive(float test, float value) => test > 0 ? value : 0;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Sum(float value) => value;
}
