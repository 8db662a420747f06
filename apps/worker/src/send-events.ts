/**
 * What happened to one send job, as the processor sees it. Status tracking and metrics
 * listen to these instead of reaching into the processor.
 */
export type SendEvent =
  | { type: 'sending'; verificationId: string; country: string; attempt: number }
  | {
      type: 'sent';
      verificationId: string;
      country: string;
      attempt: number;
      transport: string;
      providerMessageId?: string;
      /** From the API accepting the request to the provider accepting the SMS. */
      latencyMs: number;
    }
  | {
      type: 'retrying';
      verificationId: string;
      country: string;
      attempt: number;
      transport: string;
      errorCode: string;
    }
  | {
      type: 'failed';
      verificationId: string;
      country: string;
      attempt: number;
      transport: string;
      errorCode: string;
      reason: string;
      permanent: boolean;
    }
  | { type: 'skipped'; verificationId: string; country: string; reason: string };

export type SendEventListener = (event: SendEvent) => void | Promise<void>;
