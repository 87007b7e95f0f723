namespace NormSharp.Cli.Experiments;

/// <summary>The training loss became NaN or infinite: the run cannot recover, and its parameters are no longer finite.</summary>
internal sealed class TrainingDivergedException : Exception
{
    public TrainingDivergedException(string message) : base(message)
    {
    }

    public TrainingDivergedException()
    {
    }

    public TrainingDivergedException(string message, Exception innerException) : base(message, innerException)
    {
    }
}
