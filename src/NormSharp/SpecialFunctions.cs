namespace NormSharp;

/// <summary>Functions the base library lacks: the complementary error function and the normal CDF/PDF, in double.</summary>
internal static class SpecialFunctions
{
    private const double InvSqrt2 = 0.70710678118654752440;
    private const double InvSqrt2Pi = 0.39894228040143267794;

    /// <summary>Φ(x) = (1 + erf(x / √2)) / 2.</summary>
    public static double NormalCdf(double x) => 0.5 * Erfc(-x * InvSqrt2);

    /// <summary>φ(x) = e^(-x²/2) / √(2π).</summary>
    public static double NormalPdf(double x) => InvSqrt2Pi * Math.Exp(-0.5 * x * x);

    /// <summary>
    /// Complementary error function, Chebyshev fit with fractional error below 1.2e-7 everywhere
    /// (Numerical Recipes, 3rd ed., erfccheb), more than float32 needs.
    /// </summary>
    public static double Erfc(double x)
    {
        double z = Math.Abs(x);
        double t = 1.0 / (1.0 + 0.5 * z);
        double r = t * Math.Exp(-z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 +
            t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 +
            t * (-0.82215223 + t * 0.17087277)))))))));
        return x >= 0 ? r : 2.0 - r;
    }
}
