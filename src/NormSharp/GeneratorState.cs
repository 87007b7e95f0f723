using System.Globalization;

namespace NormSharp;

/// <summary>
/// The state of a <see cref="Generator"/>: its seed, how many values it has drawn from the seeded sequence, and the
/// second normal sample of a Box-Muller pair not yet returned. <see cref="ToString"/> and <see cref="Parse"/> give a
/// round-trip text form ("seed:position" or "seed:position:spareNormal"), for checkpoint metadata.
/// </summary>
public readonly record struct GeneratorState(int Seed, long Position, double? SpareNormal)
{
    /// <inheritdoc/>
    public override string ToString() =>
        string.Create(CultureInfo.InvariantCulture, $"{Seed}:{Position}") +
        (SpareNormal is double spare ? ":" + spare.ToString("R", CultureInfo.InvariantCulture) : "");

    /// <summary>Reads the text form written by <see cref="ToString"/>.</summary>
    /// <exception cref="FormatException">The text is not "seed:position" or "seed:position:spareNormal".</exception>
    public static GeneratorState Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var parts = text.Split(':');
        if (parts.Length is < 2 or > 3 ||
            !int.TryParse(parts[0], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out int seed) ||
            !long.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out long position))
        {
            throw new FormatException($"Expected a generator state \"seed:position[:spareNormal]\", got \"{text}\".");
        }
        double? spare = null;
        if (parts.Length == 3)
        {
            if (!double.TryParse(parts[2], NumberStyles.Float, CultureInfo.InvariantCulture, out double value))
            {
                throw new FormatException($"Expected a generator state \"seed:position[:spareNormal]\", got \"{text}\".");
            }
            spare = value;
        }
        return new GeneratorState(seed, position, spare);
    }
}
