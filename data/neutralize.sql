-- A neutralized copy of a database must never talk to real providers nor accept their webhooks.
UPDATE comm_provider
   SET active = false,
       twilio_auth_token = NULL, twilio_webhook_shared_key = NULL, plivo_auth_token = NULL,
       vonage_api_secret = NULL, vonage_signature_secret = NULL, vonage_private_key = NULL,
       meta_access_token = NULL, meta_app_secret = NULL, meta_verify_token = NULL,
       webhook_token = md5(random()::text || id::text)
 WHERE code != 'sandbox';
