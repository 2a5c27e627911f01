namespace Yarp.SockmapForwarder.DataPath;

/// <summary>
/// The names of <see cref="DataPathKind"/> and <see cref="CloseReason"/> where they leave the process: the access log,
/// the metrics tags (<c>path</c>, <c>reason</c>) and the status. One switch each, so the names are stable.
/// </summary>
internal static class DataPathNames
{
    public static string Name(this CloseReason reason) => reason switch
    {
        CloseReason.Completed => "completed",
        CloseReason.IdleTimeout => "idle-timeout",
        CloseReason.Aborted => "aborted",
        CloseReason.ClientReset => "client-reset",
        CloseReason.BackendReset => "backend-reset",
        CloseReason.ClientOverlapReset => "client-overlap-reset",
        CloseReason.BackendOverlapReset => "backend-overlap-reset",
        CloseReason.ResetDuringSetup => "reset-during-setup",
        CloseReason.SetupFailed => "setup-failed",
        CloseReason.RouteRemoved => "route-removed",
        CloseReason.MaxConnections => "max-connections",
        CloseReason.SniMismatch => "sni-mismatch",
        CloseReason.NoDestination => "no-destination",
        CloseReason.HandoffFailed => "handoff-failed",
        CloseReason.Error => "error",
        _ => throw new ArgumentOutOfRangeException(nameof(reason), reason, null),
    };

    public static string Name(this DataPathKind path) => path switch
    {
        DataPathKind.Sockmap => nameof(DataPathKind.Sockmap),
        DataPathKind.UserSpace => nameof(DataPathKind.UserSpace),
        _ => throw new ArgumentOutOfRangeException(nameof(path), path, null),
    };
}
