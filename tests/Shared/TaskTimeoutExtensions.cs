namespace BpfSteer.Testing;

/// <summary>Every await in the tests goes through DefaultTimeout(), so a hang fails the test instead of the run.</summary>
public static class TaskTimeoutExtensions
{
    /// <summary>Generous for a 2-core VM with high steal; a test that needs longer says so with WithTimeout.</summary>
    public static readonly TimeSpan DefaultTimeoutValue = TimeSpan.FromSeconds(30);

    public static Task DefaultTimeout(this Task task) => task.WaitAsync(DefaultTimeoutValue);

    public static Task<T> DefaultTimeout<T>(this Task<T> task) => task.WaitAsync(DefaultTimeoutValue);

    public static Task DefaultTimeout(this ValueTask task) => task.AsTask().WaitAsync(DefaultTimeoutValue);

    public static Task<T> DefaultTimeout<T>(this ValueTask<T> task) => task.AsTask().WaitAsync(DefaultTimeoutValue);

    public static Task WithTimeout(this Task task, TimeSpan timeout) => task.WaitAsync(timeout);

    public static Task<T> WithTimeout<T>(this Task<T> task, TimeSpan timeout) => task.WaitAsync(timeout);
}
