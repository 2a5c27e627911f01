namespace BpfSteer;

/// <summary>A native call failed with an errno that has no more specific exception; <see cref="Errno"/> keeps it.</summary>
public sealed class NativeIOException : IOException
{
    public NativeIOException(int errno, string message) : base(message, errno) => Errno = errno;

    /// <summary>The positive errno value.</summary>
    public int Errno { get; }
}
