namespace ProxyHost.Doctor;

/// <summary>How a doctor finding affects the exit code: only <see cref="Fail"/> makes it non-zero.</summary>
internal enum DoctorOutcome
{
    /// <summary>Works.</summary>
    Ok,

    /// <summary>Works in a degraded way (a fallback, a missing optimisation); the host still starts.</summary>
    Warn,

    /// <summary>Something the configuration asks for cannot work.</summary>
    Fail,
}

/// <summary>One finding: the area, what was seen, and the exact fix when it is not <see cref="DoctorOutcome.Ok"/>.</summary>
internal sealed record DoctorCheck(DoctorOutcome Outcome, string Area, string Finding, string? Fix = null)
{
    public static DoctorCheck Ok(string area, string finding) => new(DoctorOutcome.Ok, area, finding);

    public static DoctorCheck Warn(string area, string finding, string fix) => new(DoctorOutcome.Warn, area, finding, fix);

    public static DoctorCheck Fail(string area, string finding, string fix) => new(DoctorOutcome.Fail, area, finding, fix);
}
