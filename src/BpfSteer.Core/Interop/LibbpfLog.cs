using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;

namespace BpfSteer.Interop;

/// <summary>
/// Captures libbpf's messages (including verifier logs) instead of letting them go to stderr, so a failed load
/// can say why. Keeps the last few KiB; x86-64 va_list is passed through to vsnprintf unchanged.
/// </summary>
internal static unsafe class LibbpfLog
{
    private const int Capacity = 16 * 1024;
    private static readonly object s_lock = new();
    private static readonly StringBuilder s_recent = new();
    private static int s_installed;

    public static void Install()
    {
        if (Interlocked.Exchange(ref s_installed, 1) == 0)
        {
            Libbpf.SetPrint((nint)(delegate* unmanaged[Cdecl]<int, byte*, nint, int>)&Print);
        }
    }

    public static void Clear()
    {
        lock (s_lock)
        {
            s_recent.Clear();
        }
    }

    public static string Recent()
    {
        lock (s_lock)
        {
            return s_recent.ToString().Trim();
        }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static int Print(int level, byte* format, nint args)
    {
        const int size = 8192;
        byte* buffer = stackalloc byte[size];
        var n = Libc.VsnPrintf(buffer, size, format, args);
        if (n <= 0)
        {
            return 0;
        }
        var text = Encoding.UTF8.GetString(buffer, Math.Min(n, size - 1));
        lock (s_lock)
        {
            s_recent.Append(text);
            if (s_recent.Length > Capacity)
            {
                s_recent.Remove(0, s_recent.Length - Capacity);
            }
        }
        return 0;
    }
}
